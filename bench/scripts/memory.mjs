// Runs scripts/memory-child.mjs once per job (a fresh process each) and collects the JSON lines.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tfEnv } from '../peers/tfjs-node.mjs';

const CHILD = fileURLToPath(new URL('./memory-child.mjs', import.meta.url));

// job: { peer, shape, threads, mode? }
export function measureMemory(job) {
  const argv = ['--expose-gc', CHILD, '--peer', job.peer, '--shape', job.shape, '--threads', String(job.threads)];
  if (job.mode) argv.push('--mode', job.mode);
  return new Promise((resolve) => {
    const env = job.peer === 'tfjs-node' ? tfEnv(job.threads) : process.env;
    execFile(process.execPath, argv, { timeout: 600_000, maxBuffer: 1 << 20, env }, (err, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()));
      } catch {
        const why = err?.killed ? 'timed out' : `child exited with ${err?.code ?? 0}: ${stderr.trim().split('\n').pop() ?? ''}`;
        resolve({ ...job, mode: job.mode ?? 'forward', error: why });
      }
    });
  });
}
