// Memory bandwidth of this machine in this run: copy a buffer much larger than the last-level cache
// (2 GiB by default: L3s of several hundred MiB exist) with `threads` worker threads, each copying its
// share (memcpy through TypedArray.set). GB/s counts bytes read + bytes written (2 × size), 1 GB = 1e9.
// The first copy faults the destination's pages in and is not counted; median of `reps` after it.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { runJsonChild } from './child.mjs';

const WORKER = `
const { parentPort, workerData: { sab, size, lo, hi } } = require('node:worker_threads');
const src = new Uint8Array(sab, 0, size), dst = new Uint8Array(sab, size, size);
parentPort.on('message', () => { dst.subarray(lo, hi).set(src.subarray(lo, hi)); parentPort.postMessage(0); });
`;

export async function copyBandwidth(threads, { mib = 2048, reps = 3 } = {}) {
  const size = mib * 1024 * 1024;
  const sab = new SharedArrayBuffer(2 * size);
  new Uint8Array(sab, 0, size).fill(7);
  const share = Math.ceil(size / threads / 4096) * 4096;
  const workers = Array.from(
    { length: threads },
    (_, t) =>
      new Worker(WORKER, {
        eval: true,
        workerData: { sab, size, lo: Math.min(size, t * share), hi: Math.min(size, (t + 1) * share) },
      }),
  );
  await Promise.all(workers.map((w) => new Promise((r) => w.once('online', r))));
  const once = async () => {
    const t0 = performance.now();
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((r) => {
            w.once('message', r);
            w.postMessage(0);
          }),
      ),
    );
    return performance.now() - t0;
  };
  try {
    await once(); // page faults
    const times = [];
    for (let i = 0; i < reps; i++) times.push(await once());
    times.sort((a, b) => a - b);
    const ms = times[times.length >> 1];
    return { threads, mib, ms, gbps: (2 * size) / (ms * 1e6) };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// copyBandwidth in a child process. In the benchmark's own process the 4 GiB buffer stayed
// until V8 collected it, at a moment nobody chose: in full runs that was during the next
// measurements, and the 2-thread attention core right after it ran at one thread's speed (the
// kernel freeing the pages took a core from the pool's helper, which runs at nice +5). A child's
// memory is released when it exits, before the parent goes on.
export function copyBandwidthInChild(threads, { mib = 2048, reps = 3 } = {}) {
  const child = fileURLToPath(new URL('../scripts/bandwidth-child.mjs', import.meta.url));
  return runJsonChild([child, String(threads), String(mib), String(reps)]).catch((e) => {
    throw new Error(`bandwidth child: ${e.message}`);
  });
}
