// libbpf's print callback: one koffi callback installed for the whole process, which formats
// each message with libc vsnprintf and hands its lines to the user's logger and to any capture
// in progress (load() captures to quote the verifier log in its error).
import { bpf, c, koffi, PrintFn } from './ffi';

export type LibbpfLevel = 'warn' | 'info' | 'debug';
export type LibbpfLogger = (level: LibbpfLevel, line: string) => void;

// enum libbpf_print_level (libbpf.h): LIBBPF_WARN, LIBBPF_INFO, LIBBPF_DEBUG
const LEVELS: LibbpfLevel[] = ['warn', 'info', 'debug'];

// x86-64 SysV ABI §3.5.7: va_list is a one-element array of a 24-byte struct, so a va_list
// argument is a pointer to it and va_copy is a plain copy of those 24 bytes. That lets us measure
// a message with one vsnprintf and format it with a second, whatever its length (a verifier log
// can be megabytes). Elsewhere we format once into a fixed buffer.
const VA_LIST_BYTES = 24;
const canCopyVaList = process.arch === 'x64';
const FIXED_BUF = 1 << 20;

let userLogger: LibbpfLogger | null = null;
const captures = new Set<string[]>();
let installed: koffi.IKoffiRegisteredCallback | null = null;

function format(fmt: string, ap: unknown): string {
  if (canCopyVaList) {
    const saved = Buffer.alloc(VA_LIST_BYTES); // va_copy: a real copy, view() aliases the C memory
    Buffer.from(koffi.view(ap, VA_LIST_BYTES)).copy(saved);
    const n = c.vsnprintf(null, 0, fmt, ap) as number;
    if (n < 0) return fmt;
    const out = Buffer.alloc(n + 1);
    c.vsnprintf(out, n + 1, fmt, saved);
    return out.toString('utf8', 0, n);
  }
  const out = Buffer.alloc(FIXED_BUF);
  const n = c.vsnprintf(out, FIXED_BUF, fmt, ap) as number;
  return out.toString('utf8', 0, Math.max(0, Math.min(n, FIXED_BUF - 1)));
}

function onPrint(level: number, fmt: string, ap: unknown): number {
  if (!userLogger && captures.size === 0) return 0;
  try {
    const text = format(fmt, ap);
    const lvl = LEVELS[level] ?? 'debug';
    const lines = text.split('\n');
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    for (const buf of captures) buf.push(...lines);
    if (userLogger) for (const line of lines) userLogger(lvl, line);
  } catch {
    // never throw back into C
  }
  return 0;
}

/** Installs our print callback once (idempotent). libbpf's default prints warnings to stderr. */
function ensurePrintHook(): void {
  if (installed) return;
  installed = koffi.register(onPrint, koffi.pointer(PrintFn));
  bpf.set_print(installed);
}

/**
 * Routes libbpf's messages to `fn` (null: drop them). Debug lines are only produced when libbpf
 * itself emits them, which it does for every level once a callback is installed.
 */
export function setLibbpfLogger(fn: LibbpfLogger | null): void {
  userLogger = fn;
  ensurePrintHook();
}

/** Runs `fn` while collecting every libbpf line it causes; returns both. */
export function captureLibbpf<T>(fn: () => T): { result?: T; error?: unknown; lines: string[] } {
  ensurePrintHook();
  const lines: string[] = [];
  captures.add(lines);
  try {
    return { result: fn(), lines };
  } catch (error) {
    return { error, lines };
  } finally {
    captures.delete(lines);
  }
}
