// The plain topology object importers produce, in the shape of docs/topology.md. Only the
// fields importers can fill are typed here; config/ owns the schema and the normalised model.

import type { Scheduler } from '../config/model';

export type Duration = string;
export type Argv = string[];

export interface DirectorOut {
  name: string;
  interface: string;
  xdp_mode?: 'native' | 'generic';
  addresses?: string[];
  inside_interface?: string;
}

export interface VrrpOut {
  name: string;
  interface?: string;
  vrid: number;
  priority?: number;
  state?: 'MASTER' | 'BACKUP';
  version?: 2 | 3;
  advert_interval?: Duration;
  auth?: { type: 'pass'; secret: string };
  vips: string[];
  preempt?: boolean;
  preempt_delay?: Duration;
  accept?: boolean;
  unicast_src?: string;
  unicast_peers?: string[];
  track_interfaces?: { name: string; weight: number }[];
  track_scripts?: string[];
  garp?: { master_delay?: Duration; master_repeat?: number; refresh?: Duration };
  notify?: { master?: Argv; backup?: Argv; fault?: Argv; stop?: Argv; any?: Argv };
}

export interface VrrpScriptOut {
  name: string;
  command: Argv;
  interval?: Duration;
  timeout?: Duration;
  rise?: number;
  fall?: number;
  weight?: number;
}

export interface CheckOut {
  type: 'tcp' | 'http' | 'https' | 'udp' | 'script' | 'none';
  interval?: Duration;
  timeout?: Duration;
  rise?: number;
  fall?: number;
  delay_before_retry?: Duration;
  warmup?: Duration;
  alpha?: boolean;
  port?: number;
  connect_ip?: string;
  bindto?: string;
  http?: { path?: string; host?: string; status?: string; digest?: string; regex?: string; sni?: string | boolean };
  udp?: { payload?: string; payload_hex?: string };
  script?: { command: Argv; dynamic?: boolean };
}

export interface RealOut {
  address: string;
  port?: number;
  weight?: number;
  upper_threshold?: number;
  lower_threshold?: number;
  inhibit_on_failure?: boolean;
  check?: CheckOut;
  notify_up?: Argv;
  notify_down?: Argv;
}

export interface ServiceOut {
  name?: string;
  vip: string;
  /** Absent for a grouped service (ports). */
  port?: number;
  /** A grouped service (a firewall-mark service whose ports the iptables rules give). */
  ports?: (number | string)[];
  protocol: 'tcp' | 'udp';
  method: 'dr' | 'tun' | 'nat' | 'fullnat';
  scheduler: Scheduler;
  persistence?: { timeout: Duration; netmask?: string };
  on_down?: 'expire' | 'keep';
  inhibit_on_failure?: boolean;
  quorum?: { min?: number; hysteresis?: number; up?: Argv; down?: Argv };
  sorry_server?: { address: string; port?: number };
  check?: CheckOut;
  reals: RealOut[];
}

export interface TimeoutsOut { tcp?: Duration; tcp_fin?: Duration; udp?: Duration }

export interface TopologyOut {
  director: DirectorOut;
  timeouts?: TimeoutsOut;
  vrrp?: VrrpOut[];
  vrrp_scripts?: VrrpScriptOut[];
  vrrp_sync_groups?: { name: string; instances: string[] }[];
  services?: ServiceOut[];
}

/** Something in the input that could not be mapped, or was mapped with a difference. */
export interface ImportNote {
  /** `file:line` for keepalived, `line N` for ipvsadm. */
  where: string;
  message: string;
}

export interface ImportResult {
  topology: TopologyOut;
  notes: ImportNote[];
  /** Paths in the topology whose values are placeholders the operator must fill in. */
  todo: { path: string; message: string }[];
}
