// Child process for leak.test.ts (run with --expose-gc, alone, so the figures are its own):
// 100,000 small and 1,000 large calls -- sync and async, with and without `out`, through
// MultiHeadAttention, forwardWithWeights, scaledDotProductAttention and matmul -- after a
// warm-up, and RSS / external memory measured before and after the measured phase.
// Prints one JSON line. Uses the compiled package (dist/), i.e. what users run.
//
// LEAK_SCENARIO=cache runs decoding instead: LEAK_CACHE_CALLS (default 40,000) calls on
// key/value caches -- decode steps sync and async (each rolled back with truncate, or
// reset and re-prefilled), packed steps, calls that fail (past maxLength, a detached out)
// -- measured the same way.
'use strict';
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
// NATIVE_ATTENTION_DIST: another compiled copy of lib/ (scripts/test-asan.mjs builds one).
const lib = require(path.join(process.env.NATIVE_ATTENTION_DIST || path.join(root, 'dist'), 'index.js'));

const SCENARIO = process.env.LEAK_SCENARIO || 'calls';
const CACHE_CALLS = Number(process.env.LEAK_CACHE_CALLS || 40000);
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

// The cache scenario: one decoding layer (grouped heads, rotary, a sliding window) and
// caches prefilled with PROMPT tokens, each call rolled back after, so every call does
// the same work on the same memory.
const dec = new lib.MultiHeadAttention({
  embedDim: 64,
  numHeads: 4,
  numKvHeads: 2,
  rotary: { dim: 16 },
  slidingWindow: 48,
  seed: 3,
});
const PROMPT = 100;
const CACHE_BATCH = 4;
const CACHE_LENGTH = 128;
const xd = lib.tensor(data(CACHE_BATCH * CACHE_LENGTH * 64, 7), [CACHE_BATCH, CACHE_LENGTH, 64]);
const tokens = (rows, t0, t1) => {
  const d = new Float32Array(rows.length * (t1 - t0) * 64);
  for (const [i, b] of rows.entries())
    d.set(xd.data.subarray((b * CACHE_LENGTH + t0) * 64, (b * CACHE_LENGTH + t1) * 64), i * (t1 - t0) * 64);
  return d;
};
const prefilled = () => {
  const cache = dec.createCache({ batch: CACHE_BATCH, maxLength: CACHE_LENGTH });
  dec.forward(lib.tensor(tokens([0, 1, 2, 3], 0, PROMPT), [CACHE_BATCH, PROMPT, 64]), null, null, { cache });
  return cache;
};
const stepAll = lib.tensor(tokens([0, 1, 2, 3], PROMPT, PROMPT + 1), [CACHE_BATCH, 1, 64]);
const stepTwo = lib.tensor(tokens([2, 0], PROMPT, PROMPT + 1), [2, 1, 64]);
const outTwo = new Float32Array(2 * 64);
// Packed: rows 3, 1, 0 get 1, 3 and 2 tokens.
const packedStep = lib.tensor(
  (() => {
    const d = new Float32Array(6 * 64);
    d.set(tokens([3], PROMPT, PROMPT + 1), 0);
    d.set(tokens([1], PROMPT, PROMPT + 3), 64);
    d.set(tokens([0], PROMPT, PROMPT + 2), 4 * 64);
    return d;
  })(),
  [6, 64],
);
const prompt16 = lib.tensor(tokens([0, 1, 2, 3], 0, 16), [CACHE_BATCH, 16, 64]);
const step16 = lib.tensor(tokens([0, 1, 2, 3], 16, 17), [CACHE_BATCH, 1, 64]);
const tooLong = lib.tensor(tokens([0], 0, 40), [1, 40, 64]);
const syncCache = prefilled();
const asyncCaches = Array.from({ length: ASYNC_BATCH }, prefilled);
let nextAsync = 0;
// An async step on the next of ASYNC_BATCH caches (a batch of calls uses each once), rolled back when it settles.
const asyncStep = (options = {}) => {
  const cache = asyncCaches[nextAsync++ % asyncCaches.length];
  return dec.forwardAsync(stepAll, null, null, { cache, ...options }).then((r) => {
    cache.truncate(PROMPT);
    return r;
  });
};
const expectFailure = (fn) => {
  try {
    fn();
  } catch {
    return null;
  }
  throw new Error('expected the call to fail');
};
const cacheKinds = [
  [
    'decode step, truncate',
    0.3,
    () => {
      const r = dec.forward(stepAll, null, null, { cache: syncCache });
      syncCache.truncate(PROMPT);
      return r;
    },
  ],
  [
    'decode step of 2 rows (cacheRows) + out, truncate by row',
    0.1,
    () => {
      const r = dec.forward(stepTwo, null, null, { cache: syncCache, cacheRows: [2, 0], out: outTwo });
      syncCache.truncate([PROMPT, PROMPT, PROMPT, PROMPT]);
      return r;
    },
  ],
  [
    'packed step, truncate',
    0.1,
    () => {
      const r = dec.forward(packedStep, null, null, { cache: syncCache, cacheRows: [3, 1, 0], sequenceLengths: [1, 3, 2] });
      syncCache.truncate(PROMPT);
      return r;
    },
  ],
  [
    'reset, prefill 16, decode step',
    0.05,
    () => {
      syncCache.reset();
      dec.forward(prompt16, null, null, { cache: syncCache });
      const r = dec.forward(step16, null, null, { cache: syncCache });
      syncCache.truncate(0);
      dec.forward(lib.tensor(tokens([0, 1, 2, 3], 0, PROMPT), [CACHE_BATCH, PROMPT, 64]), null, null, { cache: syncCache });
      return r;
    },
  ],
  [
    'refused: past maxLength',
    0.05,
    () => expectFailure(() => dec.forward(tooLong, null, null, { cache: syncCache, cacheRows: [1] })),
  ],
  ['forwardAsync decode step, truncate', 0.2, null, () => asyncStep()],
  ['forwardAsync decode step + fresh out', 0.1, null, () => asyncStep({ out: new Float32Array(CACHE_BATCH * 64) })],
  [
    'forwardAsync with out detached: rejected as it settles',
    0.05,
    null,
    () => {
      const out = new Float32Array(CACHE_BATCH * 64);
      const p = asyncStep({ out });
      structuredClone(out.buffer, { transfer: [out.buffer] });
      return p.then(
        () => {
          throw new Error('expected a rejection');
        },
        () => null,
      );
    },
  ],
  [
    'forwardAsync refused: past maxLength',
    0.05,
    null,
    () =>
      dec.forwardAsync(tooLong, null, null, { cache: asyncCaches[0], cacheRows: [1] }).then(
        () => {
          throw new Error('expected a rejection');
        },
        () => null,
      ),
  ],
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
  const cache = SCENARIO === 'cache';
  const warmCalls = cache
    ? await runKinds(cacheKinds, CACHE_CALLS, WARMUP)
    : (await runKinds(smallKinds, SMALL, WARMUP)) + (await runKinds(largeKinds, LARGE, LARGE_WARMUP));
  const before = await settle();
  const t1 = performance.now();
  const smallCalls = await runKinds(cache ? cacheKinds : smallKinds, cache ? CACHE_CALLS : SMALL, 1 - WARMUP);
  const mid = await settle();
  const largeCalls = cache ? 0 : await runKinds(largeKinds, LARGE, 1 - LARGE_WARMUP);
  const after = await settle();
  const t2 = performance.now();
  if (cache && (syncCache.busy || Array.from(syncCache.lengths).some((n) => n !== PROMPT)))
    throw new Error(`the sync cache ends at ${syncCache.lengths}, busy ${syncCache.busy}`);
  for (const c of asyncCaches)
    if (c.busy || Array.from(c.lengths).some((n) => n !== PROMPT))
      throw new Error(`an async cache ends at ${c.lengths}, busy ${c.busy}`);
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
