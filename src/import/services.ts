// Service names that `ipvsadm -S` (without -n) prints in place of port numbers, from the
// IANA "Service Name and Transport Protocol Port Number Registry" as Debian's /etc/services
// (netbase) lists them. Only the names operators put behind LVS; anything else is reported.

const PORTS: Record<string, number> = {
  ftp: 21, 'ftp-data': 20, ssh: 22, telnet: 23, smtp: 25, domain: 53, http: 80, www: 80,
  kerberos: 88, pop3: 110, sunrpc: 111, ntp: 123, imap2: 143, imap: 143, snmp: 161, ldap: 389,
  https: 443, microsoft_ds: 445, 'microsoft-ds': 445, syslog: 514, submission: 587, ldaps: 636,
  rsync: 873, imaps: 993, pop3s: 995, socks: 1080, openvpn: 1194, 'ms-sql-s': 1433, radius: 1812,
  'radius-acct': 1813, nfs: 2049, mysql: 3306, 'ms-wbt-server': 3389, sip: 5060, 'sip-tls': 5061,
  'xmpp-client': 5222, postgresql: 5432, 'x11': 6000, 'http-alt': 8080, webcache: 8080,
  'memcache': 11211, 'redis': 6379, amqp: 5672, 'mongodb': 27017, 'zabbix-agent': 10050,
  'zabbix-trapper': 10051,
};

/** A port number from a number or a service name; undefined when the name is unknown. */
export function servicePort(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n <= 65535 ? n : undefined;
  }
  return PORTS[text.toLowerCase()];
}
