// Turning libbpf's return convention into XlvsError.
import { XlvsError, ErrorCode } from '../errors';

/** libbpf int functions return -errno (libbpf 1.x). Throws on a negative result, returns it otherwise. */
export function check(ret: number, code: ErrorCode, what: string): number {
  if (ret < 0) throw new XlvsError(code, what, { errno: -ret });
  return ret;
}

