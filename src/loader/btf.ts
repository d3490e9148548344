// Reading libbpf's in-memory BTF of an object: the variables of a DATASEC (.rodata), to find a
// `const volatile` knob's offset and size.
import { bpf, koffi } from './ffi';

// BTF_KIND_DATASEC (include/uapi/linux/btf.h)
const BTF_KIND_DATASEC = 15;
// struct btf_type { u32 name_off; u32 info; u32 size; } then, for a DATASEC, vlen (info bits
// 0-15) entries of struct btf_var_secinfo { u32 type; u32 offset; u32 size; } (btf.rst §2.2.15).
const BTF_TYPE_BYTES = 12;
const SECINFO_BYTES = 12;

export function findDatasecVar(btf: unknown, section: string, name: string): { offset: number; size: number } | { missing: string[] } {
  const id = bpf.btf_find_by_name_kind(btf, section, BTF_KIND_DATASEC) as number;
  if (id < 0) return { missing: [] };
  const t = bpf.btf_type_by_id(btf, id);
  const info = koffi.decode(t, 4, 'uint32_t') as number;
  const vlen = info & 0xffff;
  const names: string[] = [];
  for (let i = 0; i < vlen; i++) {
    const base = BTF_TYPE_BYTES + i * SECINFO_BYTES;
    const varId = koffi.decode(t, base, 'uint32_t') as number;
    const offset = koffi.decode(t, base + 4, 'uint32_t') as number;
    const size = koffi.decode(t, base + 8, 'uint32_t') as number;
    const vt = bpf.btf_type_by_id(btf, varId);
    const varName = bpf.btf_name_by_offset(btf, koffi.decode(vt, 0, 'uint32_t') as number) as string;
    if (varName === name) return { offset, size };
    names.push(varName);
  }
  return { missing: names };
}
