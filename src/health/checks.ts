// The check function for each type.
import { CheckFn, CheckSpec, CheckType, HttpCheck, ScriptCheck, TcpCheck, UdpCheck } from './types';
import { tcpCheck } from './tcp';
import { httpCheck } from './http';
import { udpCheck } from './udp';
import { scriptCheck } from './script';

export type CheckFns = Record<CheckType, CheckFn>;

export const defaultCheckFns: CheckFns = {
  tcp: (s, sig) => tcpCheck(s as TcpCheck, sig),
  http: (s, sig) => httpCheck(s as HttpCheck, sig),
  https: (s, sig) => httpCheck(s as HttpCheck, sig),
  udp: (s, sig) => udpCheck(s as UdpCheck, sig),
  script: (s, sig) => scriptCheck(s as ScriptCheck, sig),
};

/** Runs one check of any type. */
export function runCheck(spec: CheckSpec, signal: AbortSignal = new AbortController().signal) {
  return defaultCheckFns[spec.type](spec, signal);
}
