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
    name: "missing service port",
    yaml: `services:
  - vip: 10.0.0.100
    reals: []
`,
    problems: [
      "services[0].port: is required (line 6:5)",
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
      "services[0].reals[0].port: 8080 differs from the service port 80: DR forwards without rewriting ports (line 9:37)",
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
];
