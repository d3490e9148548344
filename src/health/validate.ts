// Checks a CheckerSpec before anything is applied; every message names the field.
import * as net from 'node:net';
import { XlvsError, ErrorCodes } from '../errors';
import { CheckerSpec } from './types';
import { parseStatusSet } from './status-codes';

const TYPES = new Set(['tcp', 'http', 'https', 'udp', 'script']);

function fail(field: string, msg: string): never {
  throw new XlvsError(ErrorCodes.HEALTH, `${field}: ${msg}`);
}

function posInt(v: unknown, field: string, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(field, `must be an integer >= ${min} (got ${JSON.stringify(v)})`);
}

function duration(v: unknown, field: string, min: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) fail(field, `must be a duration in ms >= ${min} (got ${JSON.stringify(v)})`);
}

function port(v: unknown, field: string, allowZero: boolean): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1) || v > 65535) {
    fail(field, `must be ${allowZero ? 0 : 1}..65535 (got ${JSON.stringify(v)})`);
  }
}

function ip(v: unknown, field: string): void {
  if (typeof v !== 'string' || net.isIP(v) === 0) fail(field, `must be an IPv4 or IPv6 address (got ${JSON.stringify(v)})`);
}

/** Throws XlvsError(E_HEALTH) naming `at.field` for the first thing wrong with `s`. */
export function validateCheckerSpec(s: CheckerSpec, at = 'checker'): void {
  if (!s || typeof s !== 'object') fail(at, 'must be an object');
  if (typeof s.serviceKey !== 'string' || !s.serviceKey) fail(`${at}.serviceKey`, 'must be a non-empty string');
  if (typeof s.realKey !== 'string' || !s.realKey) fail(`${at}.realKey`, 'must be a non-empty string');
  const c = s.check;
  const cp = `${at}.check`;
  if (!c || typeof c !== 'object') fail(cp, 'must be an object');
  if (!TYPES.has(c.type)) fail(`${cp}.type`, `must be one of tcp, http, https, udp, script (got ${JSON.stringify(c.type)})`);
  ip(c.address, `${cp}.address`);
  port(c.port, `${cp}.port`, true);
  if (c.connectIp != null) ip(c.connectIp, `${cp}.connectIp`);
  if (c.connectPort != null) port(c.connectPort, `${cp}.connectPort`, false);
  if (c.bindto != null) ip(c.bindto, `${cp}.bindto`);
  duration(c.timeoutMs, `${cp}.timeoutMs`, 1);
  if (c.type !== 'script' && !(c.connectPort || c.port)) fail(`${cp}.port`, 'a port-0 real needs a check port (connect_port)');
  switch (c.type) {
    case 'http':
    case 'https':
      if (typeof c.method !== 'string' || !/^[A-Z]+$/.test(c.method)) fail(`${cp}.method`, `must be an HTTP method in capitals (got ${JSON.stringify(c.method)})`);
      if (typeof c.path !== 'string' || !c.path.startsWith('/')) fail(`${cp}.path`, `must start with / (got ${JSON.stringify(c.path)})`);
      parseStatusSet(c.status, `${cp}.status`);
      if (c.digest != null && !/^[0-9a-fA-F]{32}$/.test(c.digest)) fail(`${cp}.digest`, 'must be 32 hex digits (an MD5 as genhash prints it)');
      if (c.regex != null) {
        try { new RegExp(c.regex); } catch (e) { fail(`${cp}.regex`, `invalid regular expression: ${(e as Error).message}`); }
      }
      if (c.host != null && (typeof c.host !== 'string' || !c.host || /[\s]/.test(c.host))) fail(`${cp}.host`, 'must be a host name without spaces');
      break;
    case 'udp':
      if (!Buffer.isBuffer(c.payload)) fail(`${cp}.payload`, 'must be a Buffer');
      break;
    case 'script':
      if (!Array.isArray(c.command) || c.command.length === 0 || c.command.some((a) => typeof a !== 'string')) {
        fail(`${cp}.command`, 'must be a non-empty argv of strings');
      }
      if (!c.command[0]) fail(`${cp}.command[0]`, 'must name the program');
      if (c.dynamic !== undefined && typeof c.dynamic !== 'boolean') fail(`${cp}.dynamic`, 'must be true or false');
      break;
  }
  const t = s.timing;
  const tp = `${at}.timing`;
  if (!t || typeof t !== 'object') fail(tp, 'must be an object');
  duration(t.intervalMs, `${tp}.intervalMs`, 1);
  posInt(t.rise, `${tp}.rise`, 1);
  posInt(t.fall, `${tp}.fall`, 1);
  duration(t.delayBeforeRetryMs, `${tp}.delayBeforeRetryMs`, 0);
  duration(t.warmupMs, `${tp}.warmupMs`, 0);
  if (typeof t.alpha !== 'boolean') fail(`${tp}.alpha`, 'must be true or false');
}
