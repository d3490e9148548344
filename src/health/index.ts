// Public surface of the health layer.
export * from './types';
export { HealthManager, HealthManagerOptions, SyncResult } from './manager';
export { Clock, FakeClock, systemClock } from './clock';
export { checkerId } from './identity';
export { runCheck, defaultCheckFns } from './checks';
export { computeService, DEFAULT_QUORUM, QuorumConfig, QuorumRealInput, ServiceVerdict, EffectiveReal } from './quorum';
export { ServiceHealth, ServiceNotify, RealNotify, realInputs, ConfiguredReal } from './service';
export { runNotify } from './notify';
export { validateCheckerSpec } from './validate';
export { parseStatusSet } from './status-codes';
export { checkerSpec, checkerSpecs } from './from-config';
