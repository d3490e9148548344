// Bad topologies and the exact problems each must produce (path: message (line L:C)).
// DIRECTOR is prepended to every case except those starting with "!raw" (a line that is
// removed before parsing), so line numbers in expectations count from the director's line 1.

export const DIRECTOR = `director:
  name: edge-a
  interface: eth0
  addresses: [10.0.0.2/24, 2001:db8::2/64]
`;

export interface BadCase {
  name: string;
  yaml: string;
  code?: 'E_CONFIG_PARSE' | 'E_CONFIG_INVALID';
  problems: string[];
}

export const BAD_CASES: BadCase[] = [
  {
    name: "unknown top-level field",
    yaml: `servces: []
`,
    problems: [
      "servces: unknown field (did you mean \"services\"?) (line 5:1)",
    ],
  },
  {
    name: "typo in a service field",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    sheduler: maglev
    reals: []
`,
    problems: [
      "services[0].sheduler: unknown field (did you mean \"scheduler\"?) (line 8:5)",
    ],
  },
  {
    name: "weight above 65535",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: 10.0.0.11, weight: 70000 }
`,
    problems: [
      "services[0].reals[0].weight: 70000 is above 65535 (line 9:39)",
    ],
  },
  {
    name: "missing director",
    yaml: `!raw
services: []
`,
    problems: [
      "director: is required (line 1:1)",
    ],
  },
  {
    name: "on_sigterm neither keep nor remove",
    yaml: `!raw
director:
  name: edge-a
  interface: eth0
  on_sigterm: detach
services: []
`,
    problems: [
      "director.on_sigterm: \"detach\" is not one of keep, remove (line 4:15)",
    ],
  },
  {
    name: "missing service port",
    yaml: `services:
  - vip: 10.0.0.100
    reals: []
`,
    problems: [
      "services[0].port: is required (or ports, for a grouped service) (line 6:5)",
    ],
  },
  {
    name: "protocol not known",
    yaml: `services:
  - { vip: 10.0.0.100, port: 80, protocol: sctp, reals: [] }
`,
    problems: [
      "services[0].protocol: \"sctp\" is not one of tcp, udp (line 6:44)",
    ],
  },
  {
    name: "protocol typo suggests",
    yaml: `services:
  - { vip: 10.0.0.100, port: 80, protocol: tpc, reals: [] }
`,
    problems: [
      "services[0].protocol: \"tpc\" is not one of tcp, udp (did you mean \"tcp\"?) (line 6:44)",
    ],
  },
  {
    name: "port is not a number",
    yaml: `services:
  - { vip: 10.0.0.100, port: http, reals: [] }
`,
    problems: [
      "services[0].port: expected a whole number, got \"http\" (line 6:30)",
    ],
  },
  {
    name: "vrid above 255",
    yaml: `vrrp:
  - { name: VI_1, vrid: 256, vips: [10.0.0.100] }
`,
    problems: [
      "vrrp[0].vrid: 256 is above 255 (line 6:25)",
    ],
  },
  {
    name: "priority 0",
    yaml: `vrrp:
  - { name: VI_1, vrid: 1, priority: 0, vips: [10.0.0.100] }
`,
    problems: [
      "vrrp[0].priority: 0 is below 1 (line 6:38)",
    ],
  },
  {
    name: "director name with capitals",
    yaml: `!raw
director:
  name: Edge_A
  interface: eth0
`,
    problems: [
      "director.name: \"Edge_A\" is not lower-case letters, digits and -, 1 to 32 characters (line 2:9)",
    ],
  },
  {
    name: "check type typo",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: tcpp }
    reals: []
`,
    problems: [
      "services[0].check.type: \"tcpp\" is not one of tcp, http, https, udp, script, none (did you mean \"tcp\"?) (line 8:20)",
    ],
  },
  {
    name: "digest not an MD5",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: http, http: { digest: abc123 } }
    reals: []
`,
    problems: [
      "services[0].check.http.digest: \"abc123\" is not 32 hex digits (an MD5 as keepalived's genhash prints it) (line 8:42)",
    ],
  },
  {
    name: "empty notify command",
    yaml: `vrrp:
  - name: VI_1
    vrid: 1
    vips: [10.0.0.100]
    notify: { master: [] }
`,
    problems: [
      "vrrp[0].notify.master: needs at least 1 item (line 9:23)",
    ],
  },
  {
    name: "auth type not pass",
    yaml: `vrrp:
  - { name: VI_1, vrid: 1, vips: [10.0.0.100], auth: { type: ah, secret: x } }
`,
    problems: [
      "vrrp[0].auth.type: \"ah\" is not one of pass (line 6:62)",
    ],
  },
  {
    name: "reals is a mapping",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals: { address: 10.0.0.11 }
`,
    problems: [
      "services[0].reals: expected a list, got a mapping (line 8:12)",
    ],
  },
  {
    name: "unknown field in a real",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: 10.0.0.11, wieght: 2 }
`,
    problems: [
      "services[0].reals[0].wieght: unknown field (did you mean \"weight\"?) (line 9:31)",
    ],
  },
  {
    name: "YAML syntax error",
    yaml: `services:
  - vip: 10.0.0.100
    port: [80
`,
    code: 'E_CONFIG_PARSE',
    problems: [
      "(yaml): Flow sequence in block collection must be sufficiently indented and end with a ] (line 8:1)",
    ],
  },
  {
    name: "duplicate key",
    yaml: `services:
  - vip: 10.0.0.100
    vip: 10.0.0.101
    port: 80
    reals: []
`,
    code: 'E_CONFIG_PARSE',
    problems: [
      "(yaml): Map keys must be unique (line 7:5)",
    ],
  },
  {
    name: "empty file",
    yaml: `!raw
`,
    problems: [
      "(root): the file is empty: a topology needs at least a director",
    ],
  },
  {
    name: "duplicate VIP",
    yaml: `services:
  - { vip: 10.0.0.100, port: 80, reals: [] }
  - { vip: 10.0.0.100, port: 80, protocol: tcp, reals: [] }
`,
    problems: [
      "services[1].vip: 10.0.0.100:80/tcp is already defined by services[0] (line 7:12)",
    ],
  },
  {
    name: "real twice in one VIP",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: 10.0.0.11 }
      - { address: 10.0.0.11, weight: 2 }
`,
    problems: [
      "services[0].reals[1].address: 10.0.0.11 is already reals[0] of this service (line 10:20)",
    ],
  },
  {
    name: "table size not prime",
    yaml: `services:
  - { vip: 10.0.0.100, port: 80, table_size: 65536, reals: [] }
`,
    problems: [
      "services[0].table_size: 65536 is not a prime number (Maglev needs a prime table size, e.g. 65537 or 251) (line 6:46)",
    ],
  },
  {
    name: "non-contiguous netmask",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    persistence: { timeout: 1h, netmask: 255.0.255.0 }
    reals: []
`,
    problems: [
      "services[0].persistence.netmask: 255.0.255.0 is not a contiguous netmask (its one-bits must come first, e.g. 255.255.255.0) (line 8:42)",
    ],
  },
  {
    name: "IPv6 prefix 129",
    yaml: `services:
  - vip: 2001:db8::100
    port: 80
    persistence: { netmask: 129 }
    reals: []
`,
    problems: [
      "services[0].persistence.netmask: prefix length 129 does not fit IPv6 (0..128) (line 8:29)",
    ],
  },
  {
    name: "IPv6 service with a dotted mask",
    yaml: `services:
  - vip: 2001:db8::100
    port: 80
    persistence: { netmask: 255.255.255.0 }
    reals: []
`,
    problems: [
      "services[0].persistence.netmask: \"255.255.255.0\": an IPv6 service takes the netmask as a prefix length 0..128 (e.g. 64) (line 8:29)",
    ],
  },
  {
    name: "DR real outside the director subnets",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: 10.0.0.11 }
      - { address: 192.168.5.11 }
`,
    problems: [
      "services[0].reals[1].address: 192.168.5.11 is outside the director's IPv4 subnets (10.0.0.2/24): DR needs the real on the same link (line 10:20)",
    ],
  },
  {
    name: "TUN service without a tunnel source of the family",
    yaml: `!raw
director:
  name: edge-a
  interface: eth0
  addresses: [10.0.0.2/24]
services:
  - vip: 10.0.0.100
    port: 80
    method: tun
    reals:
      - { address: 2001:db8:5::11 }
`,
    problems: [
      "services[0].reals[0].address: no IPv6 tunnel source for 2001:db8:5::11: add an IPv6 address to director.addresses or director.tun_source (line 10:20)",
    ],
  },
  {
    name: "durations that do not parse",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: tcp, interval: 5 sec, timeout: -1 }
    reals: []
`,
    problems: [
      "services[0].check.interval: \"5 sec\" is not a duration (write e.g. 500ms, 2s, 1m30s, 1h, or a number of seconds) (line 8:35)",
      "services[0].check.timeout: -1 is not a duration (a number of seconds must be 0 or more) (line 8:51)",
    ],
  },
  {
    name: "vrid twice on one interface",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, vips: [10.0.0.100] }
  - { name: VI_2, vrid: 51, vips: [10.0.0.101] }
`,
    problems: [
      "vrrp[1].vrid: vrid 51 is already used on eth0 by vrrp[0] (IPv4) (line 7:25)",
    ],
  },
  {
    name: "v2 advert interval not whole seconds",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, advert_interval: 1500ms, vips: [10.0.0.100] }
`,
    problems: [
      "vrrp[0].advert_interval: 1500ms is not a whole number of seconds in 1s..255s (VRRP v2 adverts count seconds, RFC 3768 §5.3.7) (line 6:46)",
    ],
  },
  {
    name: "auth with version 3",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, version: 3, auth: { type: pass, secret: x }, vips: [10.0.0.100] }
`,
    problems: [
      "vrrp[0].auth: VRRP version 3 has no authentication (RFC 5798 §9); remove auth or use version: 2 (line 6:41)",
    ],
  },
  {
    name: "unknown vrrp_script",
    yaml: `vrrp_scripts:
  - { name: chk_nginx, command: [/usr/bin/pgrep, nginx] }
vrrp:
  - { name: VI_1, vrid: 51, vips: [10.0.0.100], track_scripts: [chk_ngnix] }
`,
    problems: [
      "vrrp[0].track_scripts[0]: no vrrp_scripts entry is named \"chk_ngnix\" (line 8:65)",
    ],
  },
  {
    name: "sync group names an unknown instance",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, vips: [10.0.0.100] }
vrrp_sync_groups:
  - { name: G1, instances: [VI_1, VI_9] }
`,
    problems: [
      "vrrp_sync_groups[0].instances[1]: no vrrp instance is named \"VI_9\" (line 8:35)",
    ],
  },
  {
    name: "DR real of the other family",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: "2001:db8::11" }
`,
    problems: [
      "services[0].reals[0].address: 2001:db8::11 is IPv6 but the VIP is IPv4: DR cannot change the family (use method: tun) (line 9:20)",
    ],
  },
  {
    name: "port 0 service with a check lacking a port",
    yaml: `services:
  - vip: 10.0.0.100
    port: 0
    check: { type: tcp }
    reals:
      - { address: 10.0.0.11 }
`,
    problems: [
      "services[0].check.port: is required: the service is port 0 (every port), so a tcp check needs a port to probe (line 8:12)",
    ],
  },
  {
    name: "VIP not an address",
    yaml: `services:
  - { vip: 300.1.1.1, port: 80, reals: [] }
`,
    problems: [
      "services[0].vip: \"300.1.1.1\" is not an IPv4 or IPv6 address (line 6:12)",
    ],
  },
  {
    name: "director address without prefix",
    yaml: `!raw
director:
  name: edge-a
  interface: eth0
  addresses: [10.0.0.2]
`,
    problems: [
      "director.addresses[0]: \"10.0.0.2\" needs a prefix length, e.g. 10.0.0.2/24 (line 4:15)",
    ],
  },
  {
    name: "real port differs from the service port",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: 10.0.0.11, port: 8080 }
`,
    problems: [
      "services[0].reals[0].port: 8080 differs from the service port 80: DR forwards without rewriting ports (method: nat maps ports) (line 9:37)",
    ],
  },
  {
    name: "VRRP v2 with IPv6 VIPs",
    yaml: `vrrp:
  - { name: VI_6, vrid: 51, vips: [2001:db8::100/64] }
`,
    problems: [
      "vrrp[0].version: VRRP version 2 carries IPv4 only (RFC 3768); use version: 3 for IPv6 (line 6:5)",
    ],
  },
  {
    name: "keepalived alias and xlvs name both set",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: tcp, interval: 5s, delay_loop: 6 }
    reals: []
`,
    problems: [
      "services[0].check.delay_loop: both interval and its keepalived alias delay_loop are set; keep one (line 8:39)",
    ],
  },
  {
    name: "script check without a command",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: script }
    reals: []
`,
    problems: [
      "services[0].check.script: type script needs script.command (line 8:12)",
    ],
  },
  {
    name: "dynamic and inhibit_on_failure that are not booleans",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    inhibit_on_failure: yes please
    reals:
      - { address: 10.0.0.11, inhibit_on_failure: 1, check: { type: script, script: { command: [/bin/true], dynamic: "yes" } } }
`,
    problems: [
      'services[0].inhibit_on_failure: expected true or false, got "yes please" (line 8:25)',
      'services[0].reals[0].inhibit_on_failure: expected true or false, got 1 (line 10:51)',
      'services[0].reals[0].check.script.dynamic: expected true or false, got "yes" (line 10:118)',
    ],
  },
  {
    name: "two reals of one service on this director (a director address and local: true), and a local real with a MAC",
    yaml: `services:
  - vip: 10.0.0.100
    port: 6379
    reals:
      - { address: 10.0.0.2 }
      - { address: 10.0.0.12, local: true, mac: "02:00:00:00:00:12" }
`,
    problems: [
      "services[0].reals[1].local: a second real of this service on this director (reals[0] is one already, an address in director.addresses): a director can be one real of a service (line 10:38)",
      "services[0].reals[1].mac: a local real (local: true) is this director: its flows go to its own kernel, not to a MAC; drop mac (line 10:49)",
    ],
  },
  {
    name: "local that is not a boolean",
    yaml: `services:
  - vip: 10.0.0.100
    port: 6379
    reals:
      - { address: 10.0.0.12, local: "yes" }
`,
    problems: [
      'services[0].reals[0].local: expected true or false, got "yes" (line 9:38)',
    ],
  },
  {
    name: "http regex that does not compile",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: http, http: { regex: "(a+" } }
    reals: []
`,
    problems: [
      "services[0].check.http.regex: not a valid regular expression: Invalid regular expression: /(a+/: Unterminated group (line 8:41)",
    ],
  },
  {
    name: "duplicate instance names",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, vips: [10.0.0.100] }
  - { name: VI_1, vrid: 52, vips: [10.0.0.101] }
`,
    problems: [
      "vrrp[1].name: \"VI_1\" is already the name of vrrp[0] (line 7:13)",
    ],
  },
  {
    name: "HTTP status not a code",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: http, http: { status: 2xx } }
    reals: []
`,
    problems: [
      "services[0].check.http.status: \"2xx\" is not a status code or range (e.g. 200-299,301) (line 8:42)",
    ],
  },
  {
    name: "metrics listen without a port",
    yaml: `metrics: { listen: 127.0.0.1 }
`,
    problems: [
      "metrics.listen: \"127.0.0.1\" is not address:port (e.g. 127.0.0.1:9720 or [::1]:9720) (line 5:20)",
    ],
  },
  {
    name: "nopreempt with state MASTER",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, state: MASTER, nopreempt: true, vips: [10.0.0.100] }
`,
    problems: [
      "vrrp[0].state: MASTER with preempt: false — keepalived only honours nopreempt with state BACKUP (line 6:36)",
    ],
  },
  {
    name: "quorum above the total weight",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    quorum: { min: 5 }
    reals:
      - { address: 10.0.0.11, weight: 2 }
      - { address: 10.0.0.12, weight: 2 }
`,
    problems: [
      "services[0].quorum.min: 5 is more than the total weight 4 of the reals: the quorum could never be met (line 8:20)",
    ],
  },
  {
    name: "unicast peer of the other family",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, vips: [10.0.0.100], unicast_src: 10.0.0.2, unicast_peers: ["2001:db8::3"] }
`,
    problems: [
      "vrrp[0].unicast_peers[0]: 2001:db8::3 is IPv6 but the VIPs are IPv4 (line 6:88)",
    ],
  },
  {
    name: "instance in two sync groups",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, vips: [10.0.0.100] }
vrrp_sync_groups:
  - { name: G1, instances: [VI_1] }
  - { name: G2, instances: [VI_1] }
`,
    problems: [
      "vrrp_sync_groups[1].instances[0]: \"VI_1\" is already in sync group \"G1\" (line 9:29)",
    ],
  },
  {
    name: "v3 advert interval not centiseconds",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, version: 3, advert_interval: 1005ms, vips: [10.0.0.100] }
`,
    problems: [
      "vrrp[0].advert_interval: 1005ms is not a whole number of centiseconds in 10ms..40.95s (RFC 5798 §5.2.7) (line 6:58)",
    ],
  },
  {
    name: "VIPs of two families in one instance",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, version: 3, vips: [10.0.0.100, 2001:db8::100] }
`,
    problems: [
      "vrrp[0].vips[1]: 2001:db8::100 is IPv6 but 10.0.0.100 is IPv4: one family per instance (use a second instance) (line 6:60)",
    ],
  },
  {
    name: "every problem of a file at once",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    protocol: udpp
    reals:
      - { address: 10.0.0.11, weight: -1 }
      - { address: 10.0.0.12, mac: zz }
  - vip: 10.0.0.101
    port: 70000
    reals: []
`,
    problems: [
      "services[0].protocol: \"udpp\" is not one of tcp, udp (did you mean \"udp\"?) (line 8:15)",
      "services[0].reals[0].weight: -1 is below 0 (line 10:39)",
      "services[0].reals[1].mac: \"zz\" is not a MAC address like 02:00:00:00:00:01 (line 11:36)",
      "services[1].port: 70000 is above 65535 (line 13:11)",
    ],
  },
  {
    name: "several semantic problems at once",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, advert_interval: 2500ms, vips: [10.0.0.100] }
  - { name: VI_2, vrid: 51, vips: [10.0.0.101], track_scripts: [nope] }
services:
  - vip: 10.0.0.100
    port: 80
    table_size: 1000
    reals:
      - { address: 10.0.0.11 }
      - { address: 10.9.0.12 }
  - { vip: 10.0.0.100, port: 80, reals: [] }
`,
    problems: [
      "vrrp[0].advert_interval: 2500ms is not a whole number of seconds in 1s..255s (VRRP v2 adverts count seconds, RFC 3768 §5.3.7) (line 6:46)",
      "vrrp[1].vrid: vrid 51 is already used on eth0 by vrrp[0] (IPv4) (line 7:25)",
      "vrrp[1].track_scripts[0]: no vrrp_scripts entry is named \"nope\" (line 7:65)",
      "services[0].table_size: 1000 is not a prime number (Maglev needs a prime table size, e.g. 65537 or 251) (line 11:17)",
      "services[0].reals[1].address: 10.9.0.12 is outside the director's IPv4 subnets (10.0.0.2/24): DR needs the real on the same link (line 14:20)",
      "services[1].vip: 10.0.0.100:80/tcp is already defined by services[0] (line 15:12)",
    ],
  },
  {
    name: "a duration longer than a timer can hold, in every kind of duration field",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: tcp, interval: 999999h, timeout: 2147484s, delay_before_retry: 600h, warmup: 1000h }
    reals: [{ address: 10.0.0.11 }]
vrrp_scripts:
  - { name: chk, command: [/bin/true], interval: 999999h, timeout: 9999999999 }
vrrp:
  - name: VI_1
    vrid: 51
    version: 3
    advert_interval: 999999h
    vips: [10.0.0.100]
    garp: { master_delay: 9999999s, refresh: 999999h }
`,
    problems: [
      "services[0].check.interval: 999999h is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 8:35)",
      "services[0].check.timeout: 2147484s is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 8:53)",
      "services[0].check.delay_before_retry: 600h is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 8:83)",
      "services[0].check.warmup: 1000h is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 8:97)",
      "vrrp_scripts[0].interval: 999999h is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 11:50)",
      "vrrp_scripts[0].timeout: 9999999999 is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 11:68)",
      "vrrp[0].advert_interval: 999999h is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 16:22)",
      "vrrp[0].garp.master_delay: 9999999s is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 18:27)",
      "vrrp[0].garp.refresh: 999999h is above 2147483647ms (about 24.9 days), the longest delay a timer can hold (line 18:46)",
    ],
  },
  {
    name: "durations just under the timer limit and a v3 advert above 40.95s",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    check: { type: tcp, interval: 2147483647ms, timeout: 596h }
    reals: [{ address: 10.0.0.11 }]
vrrp:
  - { name: VI_1, vrid: 51, version: 3, advert_interval: 41s, vips: [10.0.0.100] }
  - { name: VI_2, vrid: 52, version: 2, advert_int: 256, vips: [10.0.0.101] }
`,
    problems: [
      "vrrp[0].advert_interval: 41000ms is not a whole number of centiseconds in 10ms..40.95s (RFC 5798 §5.2.7) (line 11:58)",
      "vrrp[1].advert_int: 256000ms is not a whole number of seconds in 1s..255s (VRRP v2 adverts count seconds, RFC 3768 §5.3.7) (line 12:53)",
    ],
  },
  {
    name: "table_size above LB_MAGLEV_MAX",
    yaml: `services:
  - { vip: 10.0.0.100, port: 80, table_size: 16777213, reals: [] }
  - { vip: 10.0.0.101, port: 80, table_size: 1048573, reals: [] }
  - { vip: 10.0.0.102, port: 80, table_size: 1048575, reals: [] }
`,
    problems: [
      "services[0].table_size: 16777213 is above 1048573, the largest Maglev table the data plane holds (LB_MAGLEV_MAX) (line 6:46)",
      "services[2].table_size: 1048575 is above 1048573, the largest Maglev table the data plane holds (LB_MAGLEV_MAX) (line 8:46)",
    ],
  },
  {
    name: "persistence timeout above 32 bits of ms and netmasks out of range",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    persistence: { timeout: 1194h, netmask: -1 }
    reals: []
  - vip: 10.0.0.101
    port: 80
    persistence: { timeout: 1193h, netmask: 255.0.255.0 }
    reals: []
  - { vip: 2001:db8::100, port: 80, persistence: { netmask: 129 }, reals: [] }
  - { vip: 10.0.0.102, port: 80, persistence: { netmask: 33 }, reals: [] }
`,
    problems: [
      "services[0].persistence.timeout: 1194h is above 4294967295ms (about 49.7 days), the data plane's limit (persist_timeout_ms is 32 bits of ms) (line 8:29)",
      "services[0].persistence.netmask: prefix length -1 does not fit IPv4 (0..32) (line 8:45)",
      "services[1].persistence.netmask: 255.0.255.0 is not a contiguous netmask (its one-bits must come first, e.g. 255.255.255.0) (line 12:45)",
      "services[2].persistence.netmask: prefix length 129 does not fit IPv6 (0..128) (line 14:61)",
      "services[3].persistence.netmask: prefix length 33 does not fit IPv4 (0..32) (line 15:58)",
    ],
  },
  {
    name: "an empty program or a NUL byte in any command",
    yaml: `vrrp_scripts:
  - { name: chk, command: [""] }
vrrp:
  - { name: VI_1, vrid: 51, vips: [10.0.0.100], notify: { master: [" ", x], any: ["/bin/echo", "a\\0b"] } }
services:
  - vip: 10.0.0.100
    port: 80
    quorum: { up: [""], down: [/bin/true] }
    check: { type: script, script: { command: [""] } }
    reals:
      - { address: 10.0.0.11, notify_up: [""], notify_down: [/bin/true, ok] }
`,
    problems: [
      "vrrp_scripts[0].command[0]: the program (argv[0]) is empty (line 6:28)",
      "vrrp[0].notify.master[0]: the program (argv[0]) is empty (line 8:68)",
      "vrrp[0].notify.any[1]: holds a NUL byte at byte 1: a command argument cannot carry one (line 8:96)",
      "services[0].quorum.up[0]: the program (argv[0]) is empty (line 12:20)",
      "services[0].check.script.command[0]: the program (argv[0]) is empty (line 13:48)",
      "services[0].reals[0].notify_up[0]: the program (argv[0]) is empty (line 15:43)",
    ],
  },
  {
    name: "CR, LF and other control characters in HTTP check fields",
    yaml: `services:
  - vip: 10.0.0.100
    port: 443
    check:
      type: https
      http: { path: "/health\\r\\nX-Evil: 1", host: "a.example\\nb", sni: "x\\ty" }
    reals:
      - address: 10.0.0.11
        check: { http: { path: "/a b", virtualhost: "h\\u007f" } }
`,
    problems: [
      "services[0].check.http.path: holds CR at byte 7: a request target has no whitespace or control characters (write %0D) (line 10:21)",
      "services[0].check.http.host: holds LF at byte 9: it would break the request's headers (line 10:51)",
      "services[0].check.http.sni: holds a tab at byte 1: it would break the request's headers (line 10:72)",
      "services[0].reals[0].check.http.path: holds a space at byte 2: a request target has no whitespace or control characters (write %20) (line 13:32)",
      "services[0].reals[0].check.http.virtualhost: holds DEL at byte 1: it would break the request's headers (line 13:53)",
    ],
  },
  {
    name: "addresses no host can have as VIP, real or sorry server",
    yaml: `services:
  - { vip: 0.0.0.0, port: 80, reals: [{ address: 255.255.255.255 }, { address: 224.0.0.5 }, { address: 127.0.0.1 }] }
  - { vip: "::", port: 80, reals: [{ address: "::1" }, { address: "ff02::1" }, { address: "::ffff:10.0.0.9" }] }
  - vip: 10.0.0.100
    port: 80
    sorry_server: { address: 10.0.0.100 }
    reals:
      - { address: 10.0.0.100 }
      - { address: 10.0.0.11 }
  - { vip: 127.0.0.1, port: 80, sorry_server: { address: 0.0.0.0 }, reals: [] }
vrrp:
  - { name: VI_1, vrid: 51, vips: [239.1.1.1/24, 10.0.0.100] }
`,
    problems: [
      "services[0].vip: 0.0.0.0 is the unspecified address (RFC 1122 §3.2.1.3): it cannot be a VIP (line 6:12)",
      "services[0].reals[0].address: 255.255.255.255 is the limited broadcast address (RFC 919): it cannot be a real (line 6:50)",
      "services[0].reals[1].address: 224.0.0.5 is a multicast address (224.0.0.0/4, RFC 5771): it cannot be a real (line 6:80)",
      "services[0].reals[2].address: 127.0.0.1 is a loopback address (127.0.0.0/8, RFC 1122 §3.2.1.3): it cannot be a real (line 6:104)",
      "services[1].vip: :: is the unspecified address (RFC 4291 §2.5.2): it cannot be a VIP (line 7:12)",
      "services[1].reals[0].address: ::1 is the loopback address (RFC 4291 §2.5.3): it cannot be a real (line 7:47)",
      "services[1].reals[1].address: ff02::1 is a multicast address (ff00::/8, RFC 4291 §2.7): it cannot be a real (line 7:67)",
      "services[1].reals[2].address: ::ffff:a00:9 is an IPv4-mapped address (::ffff:0:0/96, RFC 4291 §2.5.5.2; write it as IPv4): it cannot be a real (line 7:91)",
      "services[2].sorry_server.address: 10.0.0.100 is the service's own VIP: the sorry server must be another host (line 10:30)",
      "services[2].reals[0].address: 10.0.0.100 is the service's own VIP: a real must be another host (line 12:20)",
      "services[3].vip: 127.0.0.1 is a loopback address (127.0.0.0/8, RFC 1122 §3.2.1.3): it cannot be a VIP (line 14:12)",
      "services[3].sorry_server.address: 0.0.0.0 is the unspecified address (RFC 1122 §3.2.1.3): it cannot be a sorry server (line 14:58)",
      "vrrp[0].vips[0]: 239.1.1.1 is a multicast address (224.0.0.0/4, RFC 5771): it cannot be a VIP (line 16:36)",
    ],
  },
  {
    name: "a real's MAC that is broadcast, multicast or zero",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: 10.0.0.11, mac: ff:ff:ff:ff:ff:ff }
      - { address: 10.0.0.12, mac: 01-00-5E-00-00-01 }
      - { address: 10.0.0.13, mac: 33:33:00:00:00:01 }
      - { address: 10.0.0.14, mac: 00:00:00:00:00:00 }
      - { address: 10.0.0.15, mac: 02:00:00:00:00:01 }
`,
    problems: [
      "services[0].reals[0].mac: ff:ff:ff:ff:ff:ff is the broadcast MAC: a real's MAC must be one station's (line 9:36)",
      "services[0].reals[1].mac: 01:00:5e:00:00:01 is a multicast MAC (the first octet's low bit is set, IEEE 802 group address): a real's MAC must be one station's (line 10:36)",
      "services[0].reals[2].mac: 33:33:00:00:00:01 is a multicast MAC (the first octet's low bit is set, IEEE 802 group address): a real's MAC must be one station's (line 11:36)",
      "services[0].reals[3].mac: 00:00:00:00:00:00 is all zeros (no station has it): a real's MAC must be one station's (line 12:36)",
    ],
  },
  {
    name: "pin_root and control.socket where the daemon would mount over or delete the host's files",
    yaml: `!raw
director:
  name: edge-a
  interface: eth0
  pin_root: /etc
control: { socket: /etc/passwd }
`,
    problems: [
      "director.pin_root: /etc is not inside /sys/fs/bpf/ or /run/: the daemon mounts a BPF filesystem there when it is not on one, so it must be run-time state, never a directory of the host's files (line 4:13)",
      "control.socket: /etc/passwd is not inside /run/: the daemon replaces a stale socket there, so it must be run-time state (e.g. /run/xlvs/<name>.sock) (line 5:20)",
    ],
  },
  {
    name: "paths that climb out of /run or /sys/fs/bpf",
    yaml: `!raw
director:
  name: edge-a
  interface: eth0
  pin_root: /sys/fs/bpf/../../../etc/
control: { socket: /run/../etc/shadow }
`,
    problems: [
      "director.pin_root: /sys/fs/bpf/../../../etc has a . or .. segment: write the path without them (line 4:13)",
      "control.socket: /run/../etc/shadow has a . or .. segment: write the path without them (line 5:20)",
    ],
  },
  {
    name: "pin_root and socket at the top of /run",
    yaml: `!raw
director:
  name: edge-a
  interface: eth0
  pin_root: /run
control: { socket: /run }
`,
    problems: [
      "director.pin_root: /run is not inside /sys/fs/bpf/ or /run/: the daemon mounts a BPF filesystem there when it is not on one, so it must be run-time state, never a directory of the host's files (line 4:13)",
      "control.socket: /run is not inside /run/: the daemon replaces a stale socket there, so it must be run-time state (e.g. /run/xlvs/<name>.sock) (line 5:20)",
    ],
  },
  {
    name: "a script_user that is not in /etc/passwd",
    yaml: `script_user: no-such-user-xlvs
`,
    problems: [
      "script_user: no user \"no-such-user-xlvs\" in /etc/passwd: commands could not run as it (line 5:14)",
    ],
  },
  {
    name: "script_user that is not a user name",
    yaml: `script_user: "root; rm -rf /"
`,
    problems: [
      "script_user: \"root; rm -rf /\" is not a user name (keepalived script_user; it must exist in /etc/passwd) (line 5:14)",
    ],
  },
  {
    name: "more services than the data plane has VIP ids",
    yaml: services(1024, 0),
    problems: [
      "services: 1024 services, but the data plane holds at most 1023 (one VIP id each: LB_MAX_VIPS 1024 less id 0) (line 6:3)",
    ],
  },
  {
    name: "more reals (sorry servers included) than the data plane has real ids",
    // 255 x 257 reals = 65535, and a sorry server takes the 65536th id.
    yaml: services(255, 257) + services(1, 0, 255).replace('services:\n', '').replace(' }\n', ', sorry_server: { address: 10.2.0.1 } }\n'),
    problems: [
      "services: 65536 reals over all services (a sorry server counts as one), but the data plane holds at most 65535 (one real id each: LB_MAX_REALS 65536 less id 0) (line 6:3)",
    ],
  },
  {
    name: "more accept: false addresses than the no-accept map holds",
    yaml: `vrrp:\n  - name: VI_1\n    vrid: 1\n    accept: false\n    vips: [${Array.from({ length: 1025 }, (_, i) => `10.50.${i >> 8}.${i & 255}`).join(', ')}]\n`,
    problems: [
      "vrrp: 1025 addresses of instances with accept: false, but the data plane's no-accept map holds at most 1024 (LB_MAX_VIPS) (line 6:3)",
    ],
  },
  {
    name: "connection timeouts: sub-second, zero, above 365 days, not a duration",
    yaml: `timeouts: { tcp: 1500ms, tcp_fin: 0s, udp: 2 min }
services:
  - vip: 10.0.0.100
    port: 80
    timeouts: { tcp: 8761h, udp: 0.5 }
    reals: []
`,
    problems: [
      "timeouts.tcp: 1500ms is not a whole number of seconds: connection timeouts count seconds, as ipvsadm --set does (line 5:18)",
      "timeouts.tcp_fin: 0s: a connection timeout must be at least 1s (line 5:35)",
      "timeouts.udp: \"2 min\" is not a duration (write e.g. 500ms, 2s, 1m30s, 1h, or a number of seconds) (line 5:44)",
      "services[0].timeouts.tcp: 8761h is above 31536000s (365 days), the longest connection timeout (line 9:22)",
      "services[0].timeouts.udp: 0.5s is not a whole number of seconds: connection timeouts count seconds, as ipvsadm --set does (line 9:34)",
    ],
  },
  {
    name: "a typo in timeouts",
    yaml: `timeouts: { tcp: 900s, tcp_fn: 60s }
`,
    problems: [
      "timeouts.tcp_fn: unknown field (did you mean \"tcp_fin\"?) (line 5:24)",
    ],
  },
  {
    name: "an unknown scheduler close to wlc",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    scheduler: wcl
    reals: []
`,
    problems: [
      "services[0].scheduler: \"wcl\" is not one of maglev, source-hash, dest-hash, maglev-source-port, lc, wlc (did you mean \"wlc\"?) (line 8:16)",
    ],
  },
  {
    name: "thresholds: both spellings, lower without upper, lower not below upper",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: 10.0.0.11, upper_threshold: 500, uthreshold: 500 }
      - { address: 10.0.0.12, lower_threshold: 300 }
      - { address: 10.0.0.13, uthreshold: 300, lthreshold: 300 }
      - { address: 10.0.0.15, upper_threshold: 100, lower_threshold: 0 }
`,
    problems: [
      "services[0].reals[0].uthreshold: both upper_threshold and its keepalived alias uthreshold are set; keep one (line 9:53)",
      "services[0].reals[1].lower_threshold: 300 without upper_threshold: the lower threshold only says when a real that reached its upper one takes new flows again (line 10:48)",
      "services[0].reals[2].lthreshold: 300 is not below uthreshold 300: the real must fall below the lower threshold after reaching the upper one (line 11:60)",
    ],
  },
  {
    name: "table sizes below 1024, above 268435456, not whole",
    yaml: `!raw
director:
  name: edge-a
  interface: eth0
  conn_table: { size: 1000, ipv6_size: 268435457, unconfirmed_size: 2048.5 }
  persistence_table: { size: 0, max: 5 }
`,
    problems: [
      "director.conn_table.size: 1000 is below 1024 (line 4:23)",
      "director.conn_table.ipv6_size: 268435457 is above 268435456 (line 4:40)",
      "director.conn_table.unconfirmed_size: expected a whole number, got 2048.5 (line 4:69)",
      "director.persistence_table.size: 0 is below 1024 (line 5:30)",
      "director.persistence_table.max: unknown field (line 5:33)",
    ],
  },
  {
    name: "a threshold above 32 bits",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    reals:
      - { address: 10.0.0.14, upper_threshold: 4294967296 }
`,
    problems: [
      "services[0].reals[0].upper_threshold: 4294967296 is above 4294967295 (line 9:48)",
    ],
  },
  {
    name: "grouped: port and ports both given",
    yaml: `services:
  - vip: 10.0.0.100
    port: 80
    ports: [80, 443]
    reals: []
`,
    problems: [
      "services[0].ports: a service takes port or ports, not both (line 8:5)",
    ],
  },
  {
    name: "grouped: a range whose first port is above its last",
    yaml: `services:
  - vip: 10.0.0.100
    ports: [80, "1100-1000"]
    reals: []
`,
    problems: [
      "services[0].ports[1]: \"1100-1000\" is not a port 1..65535 or a range \"first-last\" with first <= last (line 7:17)",
    ],
  },
  {
    name: "grouped: port 0 in a list",
    yaml: `services:
  - vip: 10.0.0.100
    ports: [0, 80]
    reals: []
`,
    problems: [
      "services[0].ports[0]: 0 is not a port 1..65535 or a range \"first-last\" with first <= last (line 7:13)",
    ],
  },
  {
    name: "grouped: a port listed twice in one group",
    yaml: `services:
  - vip: 10.0.0.100
    ports: ["8000-8100", 443, 8080]
    reals: []
`,
    problems: [
      "services[0].ports[2]: port 8080 is already in services[0].ports[0]: a port is listed once (line 7:31)",
    ],
  },
  {
    name: "grouped: a port of a group is another service's",
    yaml: `services:
  - vip: 10.0.0.100
    port: 443
    reals: []
  - vip: 10.0.0.100
    ports: [80, "440-450"]
    reals: []
  - vip: 10.0.0.100
    protocol: udp
    ports: [443, 444]
    reals: []
`,
    problems: [
      "services[1].ports[1]: port 443 is also services[0].port (10.0.0.100:443/tcp): a port of a VIP and protocol belongs to one service (line 10:17)",
    ],
  },
  {
    name: "grouped: a check without a port for a real without one",
    yaml: `services:
  - vip: 10.0.0.100
    ports: [80, 443]
    check: { type: tcp, interval: 5s }
    reals:
      - { address: 10.0.0.11, port: 443 }
      - { address: 10.0.0.12 }
      - { address: 10.0.0.13, check: { type: tcp } }
`,
    problems: [
      "services[0].check.port: is required for services[0].reals[1] (10.0.0.12): the service is a group of ports (80,443), so a tcp check needs a port to probe; give check.port (connect_port) or the real's port (line 8:12)",
      "services[0].reals[2].check.port: is required for services[0].reals[2] (10.0.0.13): the service is a group of ports (80,443), so a tcp check needs a port to probe; give check.port (connect_port) or the real's port (line 12:38)",
    ],
  },
  {
    name: "grouped: a real's port outside the group",
    yaml: `services:
  - vip: 10.0.0.100
    ports: [80, 443]
    reals:
      - { address: 10.0.0.11, port: 8443 }
`,
    problems: [
      "services[0].reals[0].port: 8443 is not one of the service's ports (80,443): a real of a grouped service takes every port of the group; its port says which one health checks probe (line 9:37)",
    ],
  },
  {
    name: "grouped: more ports than the data plane's VIP table holds",
    yaml: `services:
  - { vip: 10.0.0.100, ports: ["1-65535"], reals: [] }
  - { vip: 10.0.0.101, ports: ["1-10"], reals: [] }
`,
    problems: [
      "services: 65545 ports over all services (a grouped service counts each of its ports), but the data plane's VIP table holds at most 65536 (LB_VIP_KEYS) (line 6:3)",
    ],
  },
];

/**
 * `count` TUN services on VIPs 10.100.x.y (from `first`), each with `reals` reals 10.1.a.b:
 * enough to reach the map sizes without writing 65536 lines by hand.
 */
function services(count: number, reals: number, first = 0): string {
  const realList = Array.from({ length: reals }, (_, j) => `{ address: 10.1.${j >> 8}.${j & 255} }`).join(', ');
  let y = 'services:\n';
  for (let i = first; i < first + count; i++) {
    y += `  - { vip: 10.${100 + (i >> 8)}.${i & 255}.1, port: 80, method: tun, reals: [${realList}] }\n`;
  }
  return y;
}

/** Topologies that are valid but draw a warning (printed by `xlvs validate`, never fatal). */
export interface WarnCase { name: string; yaml: string; warnings: string[] }

export const WARN_CASES: WarnCase[] = [
  {
    name: "a VRRPv2 secret longer than the 8 characters VRRPv2 carries",
    yaml: `vrrp:
  - { name: VI_1, vrid: 51, auth: { type: pass, secret: "123456789012" }, vips: [10.0.0.100] }
  - { name: VI_2, vrid: 52, auth: { type: pass, secret: "12345678" }, vips: [10.0.0.101] }
`,
    warnings: [
      "vrrp[0].auth.secret: is 12 characters; VRRPv2 carries 8 (RFC 2338 §5.3.6), so only \"12345678\" is sent, as keepalived truncates it (line 6:57)",
    ],
  },
];
