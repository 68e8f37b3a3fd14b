// Runs scripts/memory-child.mjs once per job (a fresh process each) and collects the JSON lines.
import { fileURLToPath } from 'node:url';
import { runJsonChild } from '../lib/child.mjs';
import { tfEnv } from '../peers/tfjs-node.mjs';

const CHILD = fileURLToPath(new URL('./memory-child.mjs', import.meta.url));

// job: { peer, shape, threads, mode? }
export function measureMemory(job) {
  const argv = ['--expose-gc', CHILD, '--peer', job.peer, '--shape', job.shape, '--threads', String(job.threads)];
  if (job.mode) argv.push('--mode', job.mode);
  const env = job.peer === 'tfjs-node' ? tfEnv(job.threads) : process.env;
  return runJsonChild(argv, { env }).catch((e) => ({ ...job, mode: job.mode ?? 'forward', error: e.message }));
}
