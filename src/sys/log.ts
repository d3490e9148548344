// The daemon's log lines: one line per event, as text for people or JSON lines with stable field
// names for log pipelines, journald-friendly (sd-daemon(3)): under systemd (JOURNAL_STREAM set)
// no timestamps of our own, since the journal stamps each line, and text lines carry the
// syslog priority prefix (<4> warning, <3> error) so `journalctl -p warning` finds them.

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * One event. Field names are stable (JSON keys): `service` (a service key, `10.0.0.1:80/tcp`),
 * `real` (`10.0.0.2:80`), `vrrp_instance`, `state`, `from`, `reason`, `result`.
 */
export interface LogRecord {
  level: LogLevel;
  /** Where it comes from: daemon, health, vrrp, reload, apply. */
  kind: string;
  msg: string;
  fields?: Record<string, string | number | boolean>;
}

export interface LoggerOptions {
  format?: LogFormat;
  /** The lowest level written (default info). */
  level?: LogLevel;
  /** Under journald: no timestamps, priority prefixes (default: whether JOURNAL_STREAM is set). */
  journal?: boolean;
  write?: (line: string) => void;
  now?: () => Date;
}

const SYSLOG_PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warning: 4, error: 3 };

export function isLogFormat(s: string): s is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(s);
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** A writer of records: filters by level, formats, writes one line each. */
export function makeLogger(o: LoggerOptions = {}): (r: LogRecord) => void {
  const format = o.format ?? 'text';
  const min = LOG_LEVELS.indexOf(o.level ?? 'info');
  const journal = o.journal ?? !!process.env.JOURNAL_STREAM;
  const write = o.write ?? ((l: string) => { process.stdout.write(`${l}\n`); });
  const now = o.now ?? (() => new Date());
  return (r) => {
    if (LOG_LEVELS.indexOf(r.level) < min) return;
    if (format === 'json') {
      write(JSON.stringify({ ...(journal ? {} : { ts: now().toISOString() }), level: r.level, kind: r.kind, msg: r.msg, ...r.fields }));
      return;
    }
    write(`${journal ? `<${SYSLOG_PRIORITY[r.level]}>` : `${now().toISOString()} `}[${r.kind}] ${r.msg}`);
  };
}

/** A record from a line in the daemon's text form (`[kind] message`; a message starting with
 *  "warning:" is a warning). */
export function recordOfLine(line: string): LogRecord {
  const m = /^\[([a-z-]+)\] (.*)$/s.exec(line);
  const kind = m ? m[1] : 'daemon';
  const msg = m ? m[2] : line;
  return { level: /^warning\b/.test(msg) ? 'warning' : 'info', kind, msg };
}
