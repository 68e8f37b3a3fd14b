// The example's building blocks, for embedding the service elsewhere (and for its test).
export { Batcher, QueueFullError, ShuttingDownError } from './batcher.mjs';
export { detectPackedSequences } from './batch.mjs';
export { loadConfig, SETTINGS } from './config.mjs';
export { cgroupCpuLimit, cpuQuota, parseCfs, parseCpuMax } from './cpu-quota.mjs';
export { escapeLabelValue } from './metrics.mjs';
export { createServer } from './server.mjs';
