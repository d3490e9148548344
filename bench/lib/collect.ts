// Runs a command to its end and hands back its exit code and whole output (bench helpers that
// parse what a load generator prints).
import { spawn } from 'node:child_process';

export interface Collected { code: number | null; out: string; err: string }

export function runCollect(argv: string[]): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    p.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}
