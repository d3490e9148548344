// Errors with stable codes: callers branch on `code`, never on message text.
// Codes are part of the interface: add new ones, never rename or reuse.

export const ErrorCodes = {
  // loader (libbpf)
  BPF_OPEN: 'E_BPF_OPEN', // object file missing or not a BPF ELF
  BPF_LOAD: 'E_BPF_LOAD', // verifier or kernel rejected the object
  BPF_NO_PROGRAM: 'E_BPF_NO_PROGRAM', // program name not in the object
  BPF_NO_MAP: 'E_BPF_NO_MAP', // map name not in the object / not pinned
  BPF_RODATA: 'E_BPF_RODATA', // load-time constant missing or of the wrong size
  BPF_PIN: 'E_BPF_PIN', // pin / unpin / reopen failed
  BPF_ATTACH: 'E_BPF_ATTACH', // XDP/tc attach or detach failed
  BPF_NO_IFACE: 'E_BPF_NO_IFACE', // interface does not exist
  BPF_MAP_OP: 'E_BPF_MAP_OP', // lookup/update/delete/batch failed
  BPF_KEY_SIZE: 'E_BPF_KEY_SIZE', // key or value buffer of the wrong size
  BPF_TEST_RUN: 'E_BPF_TEST_RUN', // BPF_PROG_TEST_RUN failed
  BPF_STATE: 'E_BPF_STATE', // object used in the wrong state (closed, not loaded)
  // codecs
  CODEC: 'E_CODEC', // a value does not fit its field
  // config
  CONFIG_PARSE: 'E_CONFIG_PARSE',
  CONFIG_INVALID: 'E_CONFIG_INVALID',
  // control plane
  APPLY: 'E_APPLY', // reconciler apply failed (previous state kept)
  DAEMON: 'E_DAEMON',
  CONTROL: 'E_CONTROL', // control socket
  CONTROL_TOO_LARGE: 'E_CONTROL_TOO_LARGE', // a control request longer than the cap (src/control/server.ts)
  SYSTEM: 'E_SYSTEM', // a system command (ip, sysctl) failed
  VRRP: 'E_VRRP',
  HEALTH: 'E_HEALTH',
  USAGE: 'E_USAGE',
  // importers (ipvsadm -S, keepalived.conf): input malformed; message names file:line
  IMPORT_PARSE: 'E_IMPORT_PARSE',
  // data plane (src/dataplane): a VIP/real/config spec is invalid (message names the field)
  DATAPLANE_SPEC: 'E_DATAPLANE_SPEC',
  // data plane: the request does not fit the maps' state (unknown VIP, id owned by another VIP,
  // no free VIP id, pinned state of another layout); nothing was changed
  DATAPLANE_STATE: 'E_DATAPLANE_STATE',
  // a topology file or a program it runs can be changed by users other than root
  // (src/config/script-security.ts; --insecure overrides)
  INSECURE: 'E_INSECURE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface XlvsErrorOptions {
  errno?: number;
  /** Extra lines worth showing (e.g. the tail of a verifier log). */
  details?: string[];
  cause?: unknown;
}

export class XlvsError extends Error {
  readonly code: ErrorCode;
  readonly errno?: number;
  readonly details: string[];

  constructor(code: ErrorCode, message: string, opts: XlvsErrorOptions = {}) {
    const errnoText = opts.errno ? ` (${errnoName(opts.errno)})` : '';
    const detailText = opts.details && opts.details.length ? '\n' + opts.details.join('\n') : '';
    super(message + errnoText + detailText, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'XlvsError';
    this.code = code;
    this.errno = opts.errno;
    this.details = opts.details ?? [];
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 9: 'EBADF',
  11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST',
  19: 'ENODEV', 22: 'EINVAL', 24: 'EMFILE', 28: 'ENOSPC', 95: 'EOPNOTSUPP', 524: 'ENOTSUPP',
};

/** `errno 22 EINVAL` style text for messages. */
function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return `errno ${n}${ERRNO_NAMES[n] ? ' ' + ERRNO_NAMES[n] : ''}`;
}

export function isXlvsError(e: unknown, code?: ErrorCode): e is XlvsError {
  return e instanceof Error && (e as XlvsError).name === 'XlvsError' && (code === undefined || (e as XlvsError).code === code);
}
