// Importers from the LVS tools operators already run: `ipvsadm -S` and keepalived.conf.
export { importIpvsadm, hostnamesIn, type IpvsadmOptions } from './ipvsadm';
export { importKeepalived, type KeepalivedOptions } from './keepalived/index';
export { emitTopology, formatNotes } from './emit';
export { mapScheduler } from './schedulers';
export { splitCommand } from './argv';
export type { ImportNote, ImportResult, TopologyOut } from './types';
export { parseIptablesSave, resolveMark, type IptablesMarks } from './iptables';
