// Where xlvs finds its own files: the repository (or install) root, built BPF objects, configs.
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/** The directory holding xlvs's package.json, found by walking up from this file. */
export function repoRoot(): string {
  if (root) return root;
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'xlvs') return (root = dir);
      } catch { /* keep walking */ }
    }
    const up = path.dirname(dir);
    if (up === dir) return (root = process.cwd());
    dir = up;
  }
}

/** A compiled program of bpf/: `bpfObject('lb')` → build/bpf/lb.bpf.o. */
export function bpfObject(name: string): string {
  return path.join(repoRoot(), 'build', 'bpf', `${name}.bpf.o`);
}

/** A compiled test program of test/bpf/. */
export function testBpfObject(name: string): string {
  return path.join(repoRoot(), 'build', 'test-bpf', `${name}.bpf.o`);
}

