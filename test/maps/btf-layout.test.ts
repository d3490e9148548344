// Every registered codec against the BTF of the built objects: size, each member's offset and
// size, and a one-to-one match between C members (pads included) and TS fields. Loads every
// module in <outdir>/src/maps/ so a codec added there is checked without editing this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../src/paths';
import { allCodecs, StructCodec } from '../../src/maps/codec';
import './fwd-test-codecs';

const outDir = path.resolve(__dirname, '..', '..');
for (const f of fs.readdirSync(path.join(outDir, 'src', 'maps')).filter((n) => n.endsWith('.js')).sort()) {
  require(path.join(outDir, 'src', 'maps', f));
}

interface BtfType {
  id: number; kind: string; name: string; size?: number; type_id?: number; nr_elems?: number;
  members?: Array<{ name: string; type_id: number; bits_offset: number; bitfield_size?: number }>;
}

interface CStruct { object: string; size: number; members: Array<{ name: string; offset: number; size: number; bitfield: boolean }> }

function objects(): string[] {
  const root = repoRoot();
  const out: string[] = [];
  for (const dir of ['build/bpf', 'build/test-bpf']) {
    const d = path.join(root, dir);
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d).filter((n) => n.endsWith('.o')).sort()) out.push(path.join(d, f));
  }
  return out;
}

/** `bpftool -j btf dump file X`: {"types":[{id, kind, name, size, members:[{name, type_id, bits_offset}]}]}. */
function structsOf(obj: string): Map<string, CStruct> {
  const json = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', obj], { encoding: 'utf8', maxBuffer: 64 << 20 }));
  const byId = new Map<number, BtfType>();
  for (const t of json.types as BtfType[]) byId.set(t.id, t);
  const sizeOf = (id: number, depth = 0): number => {
    const t = byId.get(id);
    if (!t || depth > 32) return -1;
    switch (t.kind) {
      case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'FLOAT': return t.size ?? -1;
      case 'PTR': return 8;
      case 'ARRAY': return (t.nr_elems ?? 0) * sizeOf(t.type_id!, depth + 1);
      case 'TYPEDEF': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': return sizeOf(t.type_id!, depth + 1);
      default: return -1;
    }
  };
  const out = new Map<string, CStruct>();
  for (const t of json.types as BtfType[]) {
    if (t.kind !== 'STRUCT' || !t.name || t.name === '(anon)') continue;
    out.set(t.name, {
      object: path.basename(obj),
      size: t.size!,
      members: (t.members ?? []).map((m) => ({
        name: m.name, offset: m.bits_offset / 8, size: sizeOf(m.type_id), bitfield: !!m.bitfield_size || m.bits_offset % 8 !== 0,
      })),
    });
  }
  return out;
}

function hasBpftool(): boolean {
  try { execFileSync('bpftool', ['version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Differences between a codec and its C struct; empty when they agree. */
export function layoutProblems(codec: StructCodec<unknown>, s: CStruct): string[] {
  const p: string[] = [];
  const where = `struct ${codec.cName} (${s.object})`;
  if (codec.size !== s.size) p.push(`${where}: size is ${s.size} in C, ${codec.size} in TS`);
  const ts = new Map(codec.fields.map((f) => [f.cName ?? f.name, f]));
  for (const m of s.members) {
    if (m.bitfield) { p.push(`${where}.${m.name}: bitfield (use explicit fields; docs/DEVELOPING.md)`); continue; }
    const f = ts.get(m.name);
    if (!f) { p.push(`${where}.${m.name}: C member at offset ${m.offset} (${m.size} bytes) has no TS field`); continue; }
    if (f.offset !== m.offset) p.push(`${where}.${m.name}: offset ${m.offset} in C, ${f.offset} in TS`);
    if (f.size !== m.size) p.push(`${where}.${m.name}: size ${m.size} in C, ${f.size} in TS`);
    ts.delete(m.name);
  }
  for (const [name, f] of ts) p.push(`${where}: TS field ${name} (offset ${f.offset}) has no C member`);
  return p;
}

test('every registered codec matches its struct in the BTF of the built objects', { skip: hasBpftool() ? undefined : 'needs bpftool' }, () => {
  const objs = objects();
  assert.ok(objs.length > 0, `no built BPF objects under build/ (run make build)`);
  const structs = new Map<string, CStruct[]>();
  for (const o of objs) for (const [name, s] of structsOf(o)) structs.set(name, [...(structs.get(name) ?? []), s]);
  const codecs = allCodecs();
  assert.ok(codecs.some((c) => c.cName === 'fwd_test_key'), 'test codecs were registered');
  const problems: string[] = [];
  for (const codec of codecs) {
    const found = structs.get(codec.cName);
    if (!found) { problems.push(`struct ${codec.cName}: not in the BTF of any of ${objs.map((o) => path.basename(o)).join(', ')}`); continue; }
    // Every object that carries the struct must agree (one definition, docs/DEVELOPING.md).
    for (const s of found) problems.push(...layoutProblems(codec, s));
  }
  assert.deepEqual(problems, []);
});

test('the layout check notices a drifted codec', { skip: hasBpftool() ? undefined : 'needs bpftool' }, () => {
  const obj = objects().find((o) => o.endsWith('fwd_test.bpf.o'));
  assert.ok(obj, 'build/test-bpf/fwd_test.bpf.o exists');
  const s = structsOf(obj)!.get('fwd_test_value')!;
  const good = allCodecs().find((c) => c.cName === 'fwd_test_value')!;
  assert.deepEqual(layoutProblems(good, s), []);
  // Same struct with mac moved by one byte and the pad forgotten: both must be reported.
  const drifted = { ...good, fields: [good.fields[0], { ...good.fields[1], offset: 5 }] } as StructCodec<unknown>;
  const p = layoutProblems(drifted, s);
  assert.ok(p.some((l) => /\.mac: offset 4 in C, 5 in TS/.test(l)), p.join('\n'));
  assert.ok(p.some((l) => /\.pad: C member at offset 10 \(2 bytes\) has no TS field/.test(l)), p.join('\n'));
});
