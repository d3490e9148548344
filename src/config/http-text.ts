// HTTP check fields that go into the request line or a header as written: a CR, LF or other
// control character there splits the request (RFC 9112 §2.2 / §5: field values carry no CR,
// LF or NUL; a request-target has no whitespace), so every check would fail or say something
// else than meant.

/** The first character of `s` that cannot appear in the field, as a message; null when none. */
export function badHttpText(s: string, field: 'path' | 'header'): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const space = field === 'path' && c === 0x20;
    if (c < 0x20 || c === 0x7f || space) {
      const at = Buffer.byteLength(s.slice(0, i));
      const name = NAMES[c] ?? `control character 0x${c.toString(16).padStart(2, '0')}`;
      return field === 'path'
        ? `holds ${name} at byte ${at}: a request target has no whitespace or control characters (write %${c.toString(16).padStart(2, '0').toUpperCase()})`
        : `holds ${name} at byte ${at}: it would break the request's headers`;
    }
  }
  return null;
}

const NAMES: Record<number, string> = { 0x00: 'NUL', 0x09: 'a tab', 0x0a: 'LF', 0x0d: 'CR', 0x20: 'a space', 0x7f: 'DEL' };
