// Turning libbpf/libc return conventions into XlvsError.
import { XlvsError, ErrorCode } from '../errors';
import { lastErrno } from './ffi';

/** libbpf int functions return -errno (libbpf 1.x). Throws on a negative result, returns it otherwise. */
export function check(ret: number, code: ErrorCode, what: string): number {
  if (ret < 0) throw new XlvsError(code, what, { errno: -ret });
  return ret;
}

/** libc-style: -1 with errno. */
export function checkLibc(ret: number, code: ErrorCode, what: string): number {
  if (ret < 0) throw new XlvsError(code, what, { errno: lastErrno() || 1 });
  return ret;
}

/** Pointer functions return NULL and set errno. */
export function checkPtr<T>(ptr: T | null, code: ErrorCode, what: string): T {
  if (ptr === null || ptr === undefined) throw new XlvsError(code, what, { errno: lastErrno() || 22 });
  return ptr;
}
