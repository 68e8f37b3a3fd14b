// Ours only: two simultaneous forwardAsync calls vs the same two calls back to back.
// ratio = concurrent / back-to-back wall time (1.0 = no gain, 0.5 = perfect overlap).
// Standalone: node scripts/concurrency.mjs [--shape S2] [--threads 2] [--reps 5]
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SHAPES } from '../lib/shapes.mjs';
import { makeCase } from '../lib/data.mjs';
import { relError } from '../lib/reference.mjs';
import { median } from '../lib/stats.mjs';
import { loadOurs, setThreads, makeMha } from '../peers/ours.mjs';

export async function measureConcurrency({ shape = 'S2', threads = 2, reps = 5 } = {}) {
  await loadOurs();
  setThreads(threads);
  const m = makeMha(makeCase(SHAPES[shape]));
  const expected = Float32Array.from(await m.forwardAsync());
  await m.forwardAsync();
  const seq = [],
    conc = [];
  let maxErr = 0;
  const sequential = async () => {
    const t = performance.now();
    await m.forwardAsync();
    await m.forwardAsync();
    seq.push(performance.now() - t);
  };
  const concurrent = async () => {
    const t = performance.now();
    const outs = await Promise.all([m.forwardAsync(), m.forwardAsync()]);
    conc.push(performance.now() - t);
    for (const o of outs) maxErr = Math.max(maxErr, relError(o, expected));
  };
  for (let i = 0; i < reps; i++) {
    if (i % 2) {
      await concurrent();
      await sequential();
    } else {
      await sequential();
      await concurrent();
    }
  }
  const seqMs = median(seq),
    concMs = median(conc);
  return { shape, threads, reps, sequentialMs: seqMs, concurrentMs: concMs, ratio: concMs / seqMs, maxRelErrVsSerial: maxErr };
}

/** The same measurement in a fresh child process (JSON on its stdout). */
export function measureConcurrencyInChild({ shape = 'S2', threads = 2, reps = 5 } = {}) {
  const r = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--shape', shape, '--threads', String(threads), '--reps', String(reps)],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`concurrency child failed: ${r.stderr.trim().split('\n').pop()}`);
  return JSON.parse(r.stdout);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values: a } = parseArgs({
    options: { shape: { type: 'string' }, threads: { type: 'string' }, reps: { type: 'string' } },
  });
  const r = await measureConcurrency({
    shape: a.shape,
    threads: a.threads ? +a.threads : undefined,
    reps: a.reps ? +a.reps : undefined,
  });
  console.log(JSON.stringify(r, null, 2));
}
