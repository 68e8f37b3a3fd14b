// Child process for leak.test.ts (run with --expose-gc, alone, so the figures are its own):
// 100,000 small and 1,000 large calls -- sync and async, with and without `out`, through
// MultiHeadAttention, forwardWithWeights, scaledDotProductAttention and matmul -- after a
// warm-up, and RSS / external memory measured before and after the measured phase.
// Prints one JSON line. Uses the compiled package (dist/), i.e. what users run.
'use strict';
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
// NATIVE_ATTENTION_DIST: another compiled copy of lib/ (scripts/test-asan.mjs builds one).
const lib = require(path.join(process.env.NATIVE_ATTENTION_DIST || path.join(root, 'dist'), 'index.js'));

const SMALL = Number(process.env.LEAK_SMALL_CALLS || 100000);
const LARGE = Number(process.env.LEAK_LARGE_CALLS || 1000);
const WARMUP = 0.1; // fraction of each kind run before the baseline is taken
// Large calls reach their steady state later: 64 in flight hold 64 input and output
// copies, and the workspace pool's cache fills over a few hundred calls.
const LARGE_WARMUP = 0.5;
const ASYNC_BATCH = 64; // async calls in flight at once
// LEAK_SELFTEST=1: keep every 16th output alive on purpose, to show the measurement sees it.
const SELFTEST = process.env.LEAK_SELFTEST === '1';
const kept = [];
let callIndex = 0;
const maybeKeep = (r) => {
  if (SELFTEST && callIndex++ % 16 === 0) kept.push(r);
  return r;
};

function data(n, seed) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(0.31 * i + seed);
  return a;
}

const small = new lib.MultiHeadAttention({ embedDim: 16, numHeads: 2, seed: 1 });
const large = new lib.MultiHeadAttention({ embedDim: 128, numHeads: 4, seed: 2 });
const xs = lib.tensor(data(2 * 8 * 16, 1), [2, 8, 16]);
const ks = lib.tensor(data(2 * 5 * 16, 2), [2, 5, 16]);
const xl = lib.tensor(data(2 * 256 * 128, 3), [2, 256, 128]);
const qs = lib.tensor(data(1 * 2 * 8 * 8, 4), [1, 2, 8, 8]);
const maskS = { data: new Uint8Array([1, 1, 0, 1, 1]), shape: [5] };
const outS = new Float32Array(2 * 8 * 16);
const outL = new Float32Array(2 * 256 * 128);
const outQ = new Float32Array(1 * 2 * 8 * 8);
const mA = lib.tensor(data(12 * 9, 5), [12, 9]);
const mB = lib.tensor(data(9 * 7, 6), [9, 7]);
const outM = new Float32Array(12 * 7);

// Each kind: [name, share of its budget, sync call, or async call]
const smallKinds = [
  ['forward', 0.2, () => small.forward(xs)],
  ['forward + out', 0.1, () => small.forward(xs, ks, null, { out: outS, mask: maskS, causal: true })],
  ['forwardWithWeights', 0.05, () => small.forwardWithWeights(xs, ks, null, { averageHeads: true })],
  ['sdpa', 0.05, () => lib.scaledDotProductAttention(qs, qs, qs, { causal: true })],
  ['sdpa + out', 0.05, () => lib.scaledDotProductAttention(qs, qs, qs, { out: outQ })],
  ['matmul', 0.05, () => lib.matmul(mA, mB)],
  ['matmul + out', 0.05, () => lib.matmul(mA, mB, outM)],
  ['forwardAsync', 0.2, null, () => small.forwardAsync(xs)],
  [
    'forwardAsync (fresh out)',
    0.1,
    null,
    () => small.forwardAsync(xs, ks, null, { out: new Float32Array(2 * 8 * 16), keyLengths: [3, 5] }),
  ],
  ['forwardWithWeightsAsync', 0.05, null, () => small.forwardWithWeightsAsync(xs, ks, null)],
  [
    'sdpaAsync',
    0.05,
    null,
    () => lib.scaledDotProductAttentionAsync(qs, qs, qs, { mask: { data: new Float32Array(8), shape: [8] } }),
  ],
  ['sdpaAsync + out', 0.05, null, () => lib.scaledDotProductAttentionAsync(qs, qs, qs, { out: outQ })],
];
const largeKinds = [
  ['large forward', 0.3, () => large.forward(xl)],
  ['large forward + out', 0.2, () => large.forward(xl, null, null, { out: outL, causal: true })],
  ['large forwardAsync', 0.3, null, () => large.forwardAsync(xl)],
  ['large forwardAsync + out', 0.2, null, () => large.forwardAsync(xl, null, null, { out: outL, causal: true })],
];

async function runKinds(kinds, total, fraction) {
  let calls = 0;
  for (const [, share, sync, async] of kinds) {
    const n = Math.round(total * share * fraction);
    if (sync) {
      for (let i = 0; i < n; i++) maybeKeep(sync());
    } else {
      for (let i = 0; i < n; i += ASYNC_BATCH) {
        const batch = [];
        for (let j = i; j < Math.min(n, i + ASYNC_BATCH); j++) batch.push(async().then(maybeKeep));
        await Promise.all(batch);
      }
    }
    calls += n;
  }
  return calls;
}

function settle() {
  for (let i = 0; i < 4; i++) global.gc();
  return new Promise((resolve) =>
    setImmediate(() => {
      global.gc();
      resolve(process.memoryUsage());
    }),
  );
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with --expose-gc');
  const t0 = performance.now();
  const warmCalls = (await runKinds(smallKinds, SMALL, WARMUP)) + (await runKinds(largeKinds, LARGE, LARGE_WARMUP));
  const before = await settle();
  const t1 = performance.now();
  const smallCalls = await runKinds(smallKinds, SMALL, 1 - WARMUP);
  const mid = await settle();
  const largeCalls = await runKinds(largeKinds, LARGE, 1 - LARGE_WARMUP);
  const after = await settle();
  const t2 = performance.now();
  const pct = (a, b) => (100 * (b - a)) / a;
  process.stdout.write(
    `${JSON.stringify({
      warmCalls,
      smallCalls,
      largeCalls,
      warmupMs: Math.round(t1 - t0),
      measuredMs: Math.round(t2 - t1),
      before,
      afterSmall: mid,
      after,
      rssGrowthPct: pct(before.rss, after.rss),
      externalGrowthPct: pct(before.external, after.external),
      arrayBuffersGrowthPct: pct(before.arrayBuffers, after.arrayBuffers),
      heapUsedGrowthPct: pct(before.heapUsed, after.heapUsed),
      kept: kept.length,
    })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`leak child failed: ${err?.stack}\n`);
    process.exit(2);
  },
);
