// Shared helpers for mapping parsed keepalived.conf statements: notes with file:line, typed
// argument readers that fail with file:line, and the per-block "ignored keywords" summary.
import * as net from 'node:net';
import { splitCommand } from '../argv';
import type { ImportNote, ImportResult } from '../types';
import type { IptablesMarks } from '../iptables';
import { parseError } from './lexer';
import type { Stmt } from './parser';

export class MapContext {
  readonly notes: ImportNote[] = [];
  readonly todo: ImportResult['todo'] = [];

  /** @param marks the rules that set firewall marks (--iptables FILE), to resolve fwmark services */
  constructor(readonly marks?: IptablesMarks) {}

  /** A context whose notes are dropped (to map the same block again without repeating them). */
  silent(): MapContext {
    return new MapContext(this.marks);
  }

  where(st: Stmt): string {
    return `${st.file}:${st.line}`;
  }

  note(st: Stmt, message: string): void {
    this.notes.push({ where: this.where(st), message });
  }

  fail(st: Stmt, message: string): never {
    throw parseError(st.file, st.line, message);
  }

  /** One note listing the keywords of a block that were not mapped. */
  ignored(block: string, st: Stmt, keys: Stmt[], why?: string): void {
    if (!keys.length) return;
    const list = keys.map((k) => `${k.key}${k.children ? ' {…}' : ''} (line ${k.line})`).join(', ');
    this.note(st, `${block}: not mapped: ${list}${why ? ` — ${why}` : ''}`);
  }

  arg(st: Stmt, i = 0): string {
    const v = st.args[i];
    if (v === undefined) this.fail(st, `'${st.key}' needs a value`);
    return v;
  }

  int(st: Stmt, lo: number, hi: number, i = 0): number {
    const v = this.arg(st, i);
    if (!/^-?\d+$/.test(v) || Number(v) < lo || Number(v) > hi) this.fail(st, `${st.key}: '${v}' is not a whole number in ${lo}..${hi}`);
    return Number(v);
  }

  /** keepalived <TIMER>: seconds, fractions allowed (keepalived.conf(5) PARAMETER SYNTAX). */
  timer(st: Stmt, i = 0): number {
    const v = this.arg(st, i);
    if (!/^\d+(\.\d+)?$/.test(v)) this.fail(st, `${st.key}: '${v}' is not a time in seconds`);
    return Number(v);
  }

  /** keepalived <BOOL>: a bare keyword is true (keepalived.conf(5) PARAMETER SYNTAX). */
  bool(st: Stmt): boolean {
    const v = st.args[0];
    if (v === undefined) return true;
    const l = v.toLowerCase();
    if (['on', 'true', 'yes'].includes(l)) return true;
    if (['off', 'false', 'no'].includes(l)) return false;
    return this.fail(st, `${st.key}: '${v}' is not one of on|off|true|false|yes|no`);
  }

  ip(st: Stmt, i = 0): string {
    const v = this.arg(st, i);
    if (!net.isIP(v)) this.fail(st, `${st.key}: '${v}' is not an IP address`);
    return v;
  }

  port(st: Stmt, text: string): number {
    if (!/^\d+$/.test(text) || Number(text) > 65535) this.fail(st, `${st.key}: '${text}' is not a port (0..65535)`);
    return Number(text);
  }

  /**
   * A script statement (`notify_master "/path arg" [user [group]]`) as argv. Extra words are
   * keepalived's user/group, which xlvs does not switch to: reported.
   */
  command(st: Stmt, label: string): string[] {
    const text = this.arg(st, 0);
    const split = splitCommand(text);
    if (split.shell) this.note(st, `${label}: "${text}" uses shell syntax (${split.shell}); keepalived runs it through a shell, xlvs runs argv directly, so it is wrapped as /bin/sh -c — review it`);
    if (st.args.length > 1) this.note(st, `${label}: runs as user ${st.args.slice(1).join(':')} under keepalived; xlvs runs commands as its own user`);
    return split.argv;
  }
}

/** Children of a block, or an error if the statement has none. */
export function childrenOf(ctx: MapContext, st: Stmt): Stmt[] {
  if (!st.children) ctx.fail(st, `'${st.key}' must be followed by a '{ … }' block`);
  return st.children;
}
