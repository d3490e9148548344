// The loader: the only code that calls libbpf. Everything callers need is re-exported here.
export { BpfObject } from './object';
export { BpfProgram, TestRunOptions, TestRunResult, xdpCtx } from './program';
export { BpfMap, MapType, MapTypeName, UpdateFlag } from './map';
export { attachXdp, detachXdp, queryXdp, setXdpWarningHandler, XdpMode } from './xdp';
export { attachTcIngress, detachTcIngress, queryTcIngress } from './tc';
export { ensureBpffs, onBpffs } from './bpffs';
export { possibleCpus, pinThreadToCpu, setThreadCpus, threadCpus, setThreadNice } from './cpu';
export { setLibbpfLogger, LibbpfLevel, LibbpfLogger } from './log';
export { ifindexOf } from './iface';
