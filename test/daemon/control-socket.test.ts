// The control socket's framing over a real unix socket: requests are capped (an oversize one is
// answered with E_CONTROL_TOO_LARGE and the connection closed), lines split over many chunks and
// many requests in one chunk are answered in order, streamed replies end with an end line.
// The line splitter itself is checked for linear work on a long line.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { StreamReply, MAX_REQUEST_BYTES, ControlRequest } from '../../src/control/protocol';
import { serveControl } from '../../src/control/server';
import { controlRequest, controlStream } from '../../src/control/client';
import { LineSplitter } from '../../src/control/lines';

/** Sends raw pieces (awaiting a turn of the loop between them); resolves with every reply line once the daemon closes or `want` lines came. */
function exchange(sockPath: string, pieces: Buffer[], want: number): Promise<{ lines: string[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(sockPath);
    const lines: string[] = [];
    let buf = '';
    let done = false;
    const finish = (closed: boolean) => { if (!done) { done = true; c.destroy(); resolve({ lines, closed }); } };
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
      if (lines.length >= want) finish(false);
    });
    c.on('end', () => finish(true));
    c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? finish(true) : reject(e)));
    c.once('connect', async () => {
      for (const p of pieces) {
        if (done) return;
        if (!c.write(p)) await new Promise((r) => c.once('drain', r));
        await new Promise((r) => setImmediate(r));
      }
    });
  });
}

describe('control socket framing', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-test-control-'));
  const sockPath = path.join(dir, 'control.sock');
  let server: net.Server | null = null;

  before(async () => {
    server = await serveControl(sockPath, (req: ControlRequest) => {
      if (req.cmd === 'echo') return { n: req.n };
      if (req.cmd === 'stream') {
        const n = Number(req.n);
        async function* lines(): AsyncGenerator<string> {
          for (let i = 0; i < n; i += 100) {
            let text = '';
            for (let j = i; j < Math.min(n, i + 100); j++) text += JSON.stringify({ item: j }) + '\n';
            yield text;
          }
        }
        return new StreamReply(lines(), () => ({ count: n }));
      }
      throw new Error(`unknown ${req.cmd}`);
    });
  });
  after(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('an oversize request gets E_CONTROL_TOO_LARGE and the connection is closed', async () => {
    // 8 MiB without a newline, in 64 KiB writes: refused once the cap is passed, not buffered.
    const piece = Buffer.alloc(64 * 1024, 'a');
    const pieces = [Buffer.from('{"cmd":"echo","pad":"'), ...Array.from({ length: 128 }, () => piece)];
    const t0 = Date.now();
    const { lines, closed } = await exchange(sockPath, pieces, 2);
    assert.equal(lines.length, 1, `replies: ${lines.map((l) => l.slice(0, 80)).join(' | ')}`);
    const r = JSON.parse(lines[0]) as { ok: boolean; code: string; error: string };
    assert.equal(r.ok, false);
    assert.equal(r.code, 'E_CONTROL_TOO_LARGE');
    assert.match(r.error, new RegExp(`more than ${MAX_REQUEST_BYTES} bytes`));
    assert.equal(closed, true);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  });

  test('requests before an oversize one on the same connection are still answered', async () => {
    const big = Buffer.alloc(MAX_REQUEST_BYTES + 1, 'b');
    const { lines, closed } = await exchange(sockPath, [Buffer.from('{"cmd":"echo","n":1}\n'), big, Buffer.from('\n{"cmd":"echo","n":2}\n')], 3);
    assert.deepEqual(JSON.parse(lines[0]), { ok: true, result: { n: 1 } });
    assert.equal((JSON.parse(lines[1]) as { code: string }).code, 'E_CONTROL_TOO_LARGE');
    assert.equal(lines.length, 2, 'nothing is answered after the oversize request');
    assert.equal(closed, true);
  });

  test('a request of exactly the cap is accepted', async () => {
    const head = '{"cmd":"echo","n":7,"pad":"';
    const req = head + 'c'.repeat(MAX_REQUEST_BYTES - head.length - 2) + '"}';
    assert.equal(Buffer.byteLength(req), MAX_REQUEST_BYTES);
    const { lines } = await exchange(sockPath, [Buffer.from(req + '\n')], 1);
    assert.deepEqual(JSON.parse(lines[0]), { ok: true, result: { n: 7 } });
  });

  test('a line split over many chunks', async () => {
    const req = Buffer.from(JSON.stringify({ cmd: 'echo', n: 42, pad: 'x'.repeat(3000) }) + '\n');
    const pieces: Buffer[] = [];
    for (let i = 0; i < req.length; i += 7) pieces.push(req.subarray(i, i + 7));
    const { lines } = await exchange(sockPath, pieces, 1);
    assert.deepEqual(JSON.parse(lines[0]), { ok: true, result: { n: 42 } });
  });

  test('many requests in one chunk are answered in order', async () => {
    const text = Array.from({ length: 500 }, (_, i) => JSON.stringify({ cmd: i % 50 === 7 ? 'nope' : 'echo', n: i })).join('\n') + '\n';
    const { lines } = await exchange(sockPath, [Buffer.from(text)], 500);
    assert.equal(lines.length, 500);
    lines.forEach((l, i) => {
      const r = JSON.parse(l) as { ok: boolean; result?: { n: number }; error?: string };
      if (i % 50 === 7) assert.equal(r.ok, false);
      else assert.deepEqual(r, { ok: true, result: { n: i } });
    });
  });

  test('a client that ends its side right after its requests still reads every reply', async () => {
    const { lines, closed } = await new Promise<{ lines: string[]; closed: boolean }>((resolve, reject) => {
      const c = net.createConnection({ path: sockPath, allowHalfOpen: true });
      let buf = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => { buf += d; });
      c.on('end', () => { c.end(); resolve({ lines: buf.split('\n').filter(Boolean), closed: true }); });
      c.on('error', reject);
      c.once('connect', () => c.end(JSON.stringify({ cmd: 'stream', n: 5000 }) + '\n' + JSON.stringify({ cmd: 'echo', n: 9 }) + '\n'));
    });
    assert.equal(closed, true);
    assert.equal(lines.length, 5000 + 2);
    assert.deepEqual(JSON.parse(lines[5000]), { ok: true, end: true, result: { count: 5000 } });
    assert.deepEqual(JSON.parse(lines[5001]), { ok: true, result: { n: 9 } });
  });

  test('a streamed reply: items, then the end line; a plain request after it on the same client helper', async () => {
    const items: unknown[] = [];
    const end = await controlStream(sockPath, { cmd: 'stream', n: 1234 }, (x) => items.push(x));
    assert.deepEqual(end, { count: 1234 });
    assert.deepEqual(items, Array.from({ length: 1234 }, (_, i) => i));
    const raw: unknown[] = [];
    assert.deepEqual(await controlStream(sockPath, { cmd: 'stream', n: 3 }, (x) => raw.push(x), 5000, { rawItems: true }), { count: 3 });
    assert.deepEqual(raw, ['0', '1', '2'], 'raw items are the JSON text of each item');
    assert.deepEqual(await controlRequest(sockPath, { cmd: 'echo', n: 3 }), { n: 3 });
    await assert.rejects(controlRequest(sockPath, { cmd: 'other' }), /unknown other/);
  });
});

describe('LineSplitter', () => {
  test('splits across chunks, keeps UTF-8 intact, reports lines over the cap', () => {
    const s = new LineSplitter(10);
    const euro = Buffer.from('€');
    assert.deepEqual(s.push(Buffer.concat([Buffer.from('ab'), euro.subarray(0, 1)])), { lines: [], overflow: false });
    assert.deepEqual(s.push(Buffer.concat([euro.subarray(1), Buffer.from('\n\nxyz\n12')])), { lines: ['ab€', '', 'xyz'], overflow: false });
    assert.equal(s.pending, 2);
    assert.deepEqual(s.push(Buffer.from('345678901')), { lines: [], overflow: true });
    assert.deepEqual(s.push(Buffer.from('\nok\n')), { lines: [], overflow: true }, 'stays refused');
    const t = new LineSplitter(3);
    assert.deepEqual(t.push(Buffer.from('abc\nabcd\nx\n')), { lines: ['abc'], overflow: true });
  });

  test('a 64 MiB line in 64 KiB chunks: each chunk is scanned once (linear)', () => {
    const s = new LineSplitter();
    const chunk = Buffer.alloc(64 * 1024, 'z');
    let scanned = 0;
    const orig = Buffer.prototype.indexOf;
    // Count the bytes indexOf is asked to scan: linear means about the input's size, not its square.
    Buffer.prototype.indexOf = function (this: Buffer, v: unknown, from?: unknown, enc?: unknown) {
      scanned += this.length - (typeof from === 'number' ? from : 0);
      return orig.call(this, v as number, from as number, enc as BufferEncoding);
    } as typeof orig;
    try {
      for (let i = 0; i < 1024; i++) s.push(chunk);
      const r = s.push(Buffer.from('!\n'));
      assert.equal(r.lines.length, 1);
      assert.equal(r.lines[0].length, 64 * 1024 * 1024 + 1);
    } finally {
      Buffer.prototype.indexOf = orig;
    }
    assert.ok(scanned <= 64 * 1024 * 1024 + 2, `scanned ${scanned} bytes for a ${64 * 1024 * 1024 + 2}-byte input`);
  });
});
