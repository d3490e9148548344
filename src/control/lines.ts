// Splits a byte stream into newline-terminated lines in linear time: each chunk is scanned once
// (only the new bytes, never the buffered ones again) and a partial line is kept as a list of
// pieces until its newline arrives. With `maxLine`, a line longer than that many bytes (newline
// excluded) is reported as an overflow as soon as it is known to be, without buffering it further.
// Splitting raw bytes on 0x0a is safe for UTF-8 (no multi-byte sequence contains that byte).

export interface Split {
  lines: string[];
  /** A line exceeded maxLine; nothing after it is returned and the splitter stops. */
  overflow: boolean;
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private partLen = 0;
  private dead = false;

  constructor(private readonly maxLine = Infinity) {}

  /** Bytes of the line buffered so far (no newline seen yet). */
  get pending(): number {
    return this.partLen;
  }

  push(chunk: Buffer): Split {
    const lines: string[] = [];
    if (this.dead) return { lines, overflow: true };
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) break;
      const len = this.partLen + (nl - from);
      if (len > this.maxLine) return this.overflow(lines);
      const piece = chunk.subarray(from, nl);
      lines.push((this.partLen ? Buffer.concat([...this.parts, piece], len) : piece).toString('utf8'));
      this.parts = [];
      this.partLen = 0;
      from = nl + 1;
    }
    if (from < chunk.length) {
      if (this.partLen + (chunk.length - from) > this.maxLine) return this.overflow(lines);
      this.parts.push(chunk.subarray(from));
      this.partLen += chunk.length - from;
    }
    return { lines, overflow: false };
  }

  private overflow(lines: string[]): Split {
    this.dead = true;
    this.parts = [];
    this.partLen = 0;
    return { lines, overflow: true };
  }
}
