// A raw control-socket client for the listing's cost alone: sends `conns`, counts the streamed
// item lines without parsing them, and stops at the end line. Used by the conns bench and the
// event-loop test, where the CLI's own parsing would hide the daemon's side.
import * as net from 'node:net';

export function countListedItems(sockPath: string): Promise<{ ms: number; items: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const c = net.createConnection(sockPath);
    let items = 0;
    let tail = '';
    c.setEncoding('latin1');
    c.once('connect', () => c.write(JSON.stringify({ cmd: 'conns' }) + '\n'));
    c.on('data', (chunk: string) => {
      const text = tail + chunk;
      let from = 0;
      let nl: number;
      while ((nl = text.indexOf('\n', from)) >= 0) {
        if (text.startsWith('{"item"', from)) items++;
        else { c.destroy(); resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, items }); return; }
        from = nl + 1;
      }
      tail = text.slice(from);
    });
    c.once('error', reject);
  });
}
