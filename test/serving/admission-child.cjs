// Child of admission.test.ts, started with UV_THREADPOOL_SIZE=2. Queues 16 large
// forwardAsync calls with setNumThreads(4) (from this thread, or from 4 worker threads),
// then measures how long an fs.readFile and a small synchronous forward take meanwhile.
// Prints one JSON line.
//   node admission-child.cjs <dist/index.js> main|workers
'use strict';
const fs = require('node:fs');
const { Worker } = require('node:worker_threads');

const [dist, mode] = process.argv.slice(2);
const lib = require(dist);
lib.setNumThreads(4);

const E = 256;
const B = 4;
const L = 512;
const bigLayer = new lib.MultiHeadAttention({ embedDim: E, numHeads: 8, seed: 1 });
const x = lib.tensor(
  new Float32Array(B * L * E).map((_, i) => Math.sin(i)),
  [B, L, E],
);
const small = new lib.MultiHeadAttention({ embedDim: 64, numHeads: 4, seed: 2 });
const xs = lib.tensor(
  new Float32Array(16 * 64).map((_, i) => Math.cos(i)),
  [1, 16, 64],
);

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const lib = require(workerData.dist);
  const E = ${E}, B = ${B}, L = ${L};
  const layer = new lib.MultiHeadAttention({ embedDim: E, numHeads: 8, seed: 1 });
  const x = lib.tensor(new Float32Array(B * L * E).map((_, i) => Math.sin(i)), [B, L, E]);
  parentPort.once('message', () => {
    const calls = Array.from({ length: 4 }, () => layer.forwardAsync(x));
    parentPort.postMessage('queued');
    Promise.all(calls).then(() => parentPort.postMessage('done'));
  });
`;

function time(fn) {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

async function main() {
  // Warm up: libuv's and the pool's threads started, workspace cached, the small call's
  // own time alone.
  await fs.promises.readFile(__filename);
  await bigLayer.forwardAsync(x);
  for (let i = 0; i < 20; i++) small.forward(xs);
  const alone = Math.min(...Array.from({ length: 20 }, () => time(() => small.forward(xs))));
  const oneBig = time(() => bigLayer.forward(x));

  let pending;
  let workers = [];
  if (mode === 'workers') {
    workers = Array.from({ length: 4 }, () => new Worker(WORKER, { eval: true, workerData: { dist } }));
    await Promise.all(workers.map((w) => new Promise((r) => w.once('online', r))));
    const queued = workers.map((w) => new Promise((r) => w.once('message', r)));
    for (const w of workers) w.postMessage('go');
    await Promise.all(queued);
    pending = Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  } else {
    pending = Promise.all(Array.from({ length: 16 }, () => bigLayer.forwardAsync(x)));
  }
  const t0 = performance.now();
  const readMs = await new Promise((resolve, reject) =>
    fs.readFile(__filename, (err) => (err ? reject(err) : resolve(performance.now() - t0))),
  );
  const syncMs = time(() => small.forward(xs));
  await pending;
  const totalMs = performance.now() - t0;
  await Promise.all(workers.map((w) => w.terminate()));
  process.stdout.write(`${JSON.stringify({ mode, readMs, syncMs, aloneMs: alone, oneBigMs: oneBig, totalMs })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
