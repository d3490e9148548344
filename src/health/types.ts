// Checker spec types: what the daemon hands the health layer, mapped from the normalised
// topology (docs/topology.md `services[].check`, per-real `check`). Durations are in ms.

export type CheckType = 'tcp' | 'http' | 'https' | 'udp' | 'script';

/** Where a check connects: the real's address/port unless connect_ip/connect_port override it. */
export interface CheckTarget {
  /** The real's address (IPv4 or IPv6, no brackets). */
  address: string;
  /** The real's port (0 = port-0 service; then `port` must be set for tcp/http/udp). */
  port: number;
  /** keepalived `connect_ip`. */
  connectIp?: string | null;
  /** keepalived `connect_port`. */
  connectPort?: number | null;
  /** keepalived `bindto`: source address of the check's socket. */
  bindto?: string | null;
}

export interface TcpCheck extends CheckTarget { type: 'tcp'; timeoutMs: number }

export interface HttpCheck extends CheckTarget {
  type: 'http' | 'https';
  timeoutMs: number;
  method: string;
  path: string;
  /** Host header (keepalived `virtualhost`); default the connect address. */
  host?: string | null;
  /** Accepted status codes: "200-299" (keepalived's default), "200,301-302". */
  status: string;
  /** Hex MD5 of the body, as keepalived's `genhash` prints it. */
  digest?: string | null;
  /** Regular expression the body must match. */
  regex?: string | null;
  /** TLS server name (https); default the Host header when it is a name. */
  sni?: string | null;
  /** Verify the server's certificate chain and name (https). */
  verify?: boolean;
}

export interface UdpCheck extends CheckTarget {
  type: 'udp';
  timeoutMs: number;
  /** Payload bytes sent in one datagram (the config's `payload` or `payload_hex`, decoded). */
  payload: Buffer;
}

export interface ScriptCheck extends CheckTarget {
  type: 'script';
  timeoutMs: number;
  /** argv; `%address%` and `%port%` are replaced in each argument. Run by spawn, never a shell. */
  command: string[];
  /** keepalived `misc_dynamic`: exit 1 = down, 2..255 = up with weight code − 2. Otherwise any
   *  non-zero exit is down. Left out (not false) when unset, so checker ids stay as they were. */
  dynamic?: boolean;
}

export type CheckSpec = TcpCheck | HttpCheck | UdpCheck | ScriptCheck;

/** One probe's outcome. `weight` is set only by a dynamic script check exiting 2..255 (misc_dynamic). */
export interface CheckResult {
  ok: boolean;
  weight?: number;
  reason: string;
  durationMs: number;
}

/** A check function: one per type, in tcp.ts, http.ts, udp.ts, script.ts. */
export type CheckFn<S extends CheckSpec = CheckSpec> = (spec: S, signal: AbortSignal) => Promise<CheckResult>;

/** Timing shared by every checker type. */
export interface CheckTiming {
  /** keepalived `delay_loop`, haproxy `inter`. */
  intervalMs: number;
  /** Successes in a row that bring a down real up (haproxy `rise`). */
  rise: number;
  /** Failures in a row that take an up real down (haproxy `fall`; keepalived `retry` + 1). */
  fall: number;
  /** Spacing of the retries after a failure while up (keepalived `delay_before_retry`). */
  delayBeforeRetryMs: number;
  /** The first check runs after a random delay in [0, warmup] (keepalived `warmup`). */
  warmupMs: number;
  /** Start down until the first success (keepalived `alpha`); otherwise start up. */
  alpha: boolean;
}

/** One checker as the daemon configures it: what to probe, how often, and for which real. */
export interface CheckerSpec {
  /** `vip:port/proto`, as the reconciler keys services. */
  serviceKey: string;
  /** `address:port` (IPv6 in brackets), as the reconciler keys reals. */
  realKey: string;
  check: CheckSpec;
  timing: CheckTiming;
}

export type HealthState = 'up' | 'down';

/** A state change (or, with from === to === 'up', a misc_dynamic weight change). */
export interface HealthEvent {
  id: string;
  serviceKey: string;
  realKey: string;
  from: HealthState;
  to: HealthState;
  reason: string;
  /** Monotonic clock time (ms) of the verdict (ordering, intervals). */
  at: number;
  /** Wall time of the verdict, ms since the epoch (logs, status page). */
  time: number;
  /** Dynamic weight in force after the event (script checks exiting 2..255). */
  weight?: number;
}

/** Every finished probe, for duration metrics and the status page. */
export interface CheckEvent {
  id: string;
  serviceKey: string;
  realKey: string;
  ok: boolean;
  reason: string;
  durationMs: number;
  /** Monotonic clock time (ms) the probe finished. */
  at: number;
  /** Wall time the probe finished, ms since the epoch. */
  time: number;
  /** How late the probe started against its schedule (ms). */
  lateMs: number;
}

export interface CheckerStatus {
  id: string;
  serviceKey: string;
  realKey: string;
  state: HealthState;
  reason: string;
  /** misc_dynamic weight, when the last successful script check set one. */
  weight?: number;
  /** Wall time (ms since the epoch) of the last transition, or of the checker's start. */
  since: number;
  /** Wall time (ms since the epoch) of the last finished probe. */
  lastCheckAt?: number;
  lastDurationMs?: number;
  lastOk?: boolean;
  checks: number;
  failures: number;
  /** Most recent transitions, oldest first (bounded). */
  history: HealthEvent[];
}
