// The koffi prototypes of every libbpf function xlvs calls (libc comes from the one binding of
// it, src/sys/libc.ts). Nothing outside src/loader/ may import this file: it is the one
// replaceable FFI layer.
//
// Conventions of libbpf 1.x (libbpf.h, "LIBBPF_STRICT_ALL is the default since 1.0"): int
// functions return -errno, pointer functions return NULL and set errno. Option structs are passed
// as zeroed Buffers whose first field `sz` is their size (laid out in the file that uses them).
import * as koffi from 'koffi';
import { libc } from '../sys/libc';

const libbpf = koffi.load('libbpf.so.1');

// Opaque libbpf handles; only ever passed back to libbpf.
koffi.opaque('bpf_object');
koffi.opaque('bpf_program');
koffi.opaque('bpf_map');
koffi.opaque('btf');

/** `int print(enum libbpf_print_level, const char *fmt, va_list ap)`; va_list taken as a pointer (docs/lab-notes.md). */
export const PrintFn = koffi.proto('int libbpf_print_fn(int level, const char *fmt, void *ap)');

const f = (lib: koffi.IKoffiLib, decl: string) => lib.func(decl);

export const bpf = {
  // objects (libbpf.h)
  object_open_file: f(libbpf, 'bpf_object *bpf_object__open_file(const char *path, const void *opts)'),
  object_load: f(libbpf, 'int bpf_object__load(bpf_object *obj)'),
  object_close: f(libbpf, 'void bpf_object__close(bpf_object *obj)'),
  object_next_program: f(libbpf, 'bpf_program *bpf_object__next_program(bpf_object *obj, bpf_program *prev)'),
  object_next_map: f(libbpf, 'bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *prev)'),
  object_btf: f(libbpf, 'btf *bpf_object__btf(bpf_object *obj)'),
  program_name: f(libbpf, 'const char *bpf_program__name(bpf_program *prog)'),
  program_fd: f(libbpf, 'int bpf_program__fd(bpf_program *prog)'),
  map_name: f(libbpf, 'const char *bpf_map__name(bpf_map *map)'),
  map_fd: f(libbpf, 'int bpf_map__fd(bpf_map *map)'),
  map_type: f(libbpf, 'int bpf_map__type(bpf_map *map)'),
  map_key_size: f(libbpf, 'uint32_t bpf_map__key_size(bpf_map *map)'),
  map_flags: f(libbpf, 'uint32_t bpf_map__map_flags(bpf_map *map)'),
  map_value_size: f(libbpf, 'uint32_t bpf_map__value_size(bpf_map *map)'),
  map_max_entries: f(libbpf, 'uint32_t bpf_map__max_entries(bpf_map *map)'),
  map_is_internal: f(libbpf, 'bool bpf_map__is_internal(bpf_map *map)'),
  map_initial_value: f(libbpf, 'void *bpf_map__initial_value(bpf_map *map, void *psize)'),
  map_set_initial_value: f(libbpf, 'int bpf_map__set_initial_value(bpf_map *map, const void *data, size_t size)'),
  map_reuse_fd: f(libbpf, 'int bpf_map__reuse_fd(bpf_map *map, int fd)'),
  map_set_max_entries: f(libbpf, 'int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)'),
  // BTF (btf.h)
  btf_find_by_name_kind: f(libbpf, 'int32_t btf__find_by_name_kind(btf *btf, const char *name, uint32_t kind)'),
  btf_type_by_id: f(libbpf, 'void *btf__type_by_id(btf *btf, uint32_t id)'),
  btf_name_by_offset: f(libbpf, 'const char *btf__name_by_offset(btf *btf, uint32_t off)'),
  // raw fd-level API (bpf.h)
  obj_get: f(libbpf, 'int bpf_obj_get(const char *path)'),
  obj_pin: f(libbpf, 'int bpf_obj_pin(int fd, const char *path)'),
  prog_get_fd_by_id: f(libbpf, 'int bpf_prog_get_fd_by_id(uint32_t id)'),
  obj_get_info_by_fd: f(libbpf, 'int bpf_obj_get_info_by_fd(int fd, void *info, void *info_len)'),
  map_create: f(libbpf, 'int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const void *opts)'),
  map_update_elem: f(libbpf, 'int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)'),
  map_lookup_elem: f(libbpf, 'int bpf_map_lookup_elem(int fd, const void *key, void *value)'),
  map_delete_elem: f(libbpf, 'int bpf_map_delete_elem(int fd, const void *key)'),
  map_get_next_key: f(libbpf, 'int bpf_map_get_next_key(int fd, const void *key, void *next_key)'),
  map_lookup_batch: f(libbpf, 'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, const void *opts)'),
  map_update_batch: f(libbpf, 'int bpf_map_update_batch(int fd, const void *keys, const void *values, void *count, const void *opts)'),
  map_delete_batch: f(libbpf, 'int bpf_map_delete_batch(int fd, const void *keys, void *count, const void *opts)'),
  prog_test_run_opts: f(libbpf, 'int bpf_prog_test_run_opts(int fd, void *opts)'),
  // XDP and tc (libbpf.h)
  xdp_attach: f(libbpf, 'int bpf_xdp_attach(int ifindex, int prog_fd, uint32_t flags, const void *opts)'),
  xdp_detach: f(libbpf, 'int bpf_xdp_detach(int ifindex, uint32_t flags, const void *opts)'),
  xdp_query_id: f(libbpf, 'int bpf_xdp_query_id(int ifindex, int flags, void *prog_id)'),
  tc_hook_create: f(libbpf, 'int bpf_tc_hook_create(void *hook)'),
  tc_hook_destroy: f(libbpf, 'int bpf_tc_hook_destroy(void *hook)'),
  tc_attach: f(libbpf, 'int bpf_tc_attach(const void *hook, void *opts)'),
  tc_detach: f(libbpf, 'int bpf_tc_detach(const void *hook, const void *opts)'),
  tc_query: f(libbpf, 'int bpf_tc_query(const void *hook, void *opts)'),
  // misc
  num_possible_cpus: f(libbpf, 'int libbpf_num_possible_cpus(void)'),
  set_print: f(libbpf, 'void *libbpf_set_print(libbpf_print_fn *fn)'),
};

/** libc, from the one binding of it (src/sys/libc.ts). */
export const c = libc();

/** errno of the last libc/libbpf call on this thread. */
export function lastErrno(): number {
  return koffi.errno();
}

export { koffi };
