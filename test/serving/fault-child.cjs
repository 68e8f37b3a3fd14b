// Child of fault-injection.test.ts, run with NATIVE_ATTENTION_FAULT_INJECTION=1: makes
// allocations or thread starts fail inside each entry point and records what JavaScript
// got, then checks that the same call works once the fault is gone. Prints one JSON line.
//   node fault-child.cjs <dist/index.js> alloc|thread|cache
'use strict';
const path = require('node:path');

const [dist, kind] = process.argv.slice(2);
const lib = require(dist);
// The raw module, for the hidden test hook (the loader honours NATIVE_ATTENTION_BINARY).
const binary =
  process.env.NATIVE_ATTENTION_BINARY || path.join(path.dirname(dist), '..', 'build', 'Release', 'native_attention.node');
const native = require(binary);
const inject = (k, skip, count, thisThreadOnly = false) => native._faultInjection(k, skip, count, thisThreadOnly);

const t = (shape, seed) =>
  lib.tensor(
    new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.37 + seed)),
    shape,
  );
const same = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

async function outcome(fn) {
  try {
    await fn();
    return { outcome: 'ok' };
  } catch (e) {
    return { outcome: 'error', type: e?.constructor?.name, message: String(e?.message) };
  }
}

async function allocCases() {
  lib.setNumThreads(2);
  const layer = new lib.MultiHeadAttention({ embedDim: 64, numHeads: 4, seed: 1 });
  const x = t([2, 300, 64], 1);
  const expected = layer.forward(x).data.slice();
  const q = t([1, 2, 300, 32], 2);
  const expectedSdpa = lib.scaledDotProductAttention(q, q, q).data.slice();
  // [name, call, skip]: `skip` allocations succeed before the one that fails.
  const cases = [
    ['constructor', () => new lib.MultiHeadAttention({ embedDim: 64, numHeads: 4, seed: 1 }), 0],
    ['forward: workspace', () => layer.forward(x), 0],
    ['forwardAsync: input copy', () => layer.forwardAsync(x), 0],
    ['forwardAsync: output buffer', () => layer.forwardAsync(x), 1],
    ['forwardAsync: call record', () => layer.forwardAsync(x), 2],
    ['forwardAsync: workspace, on the pool thread', () => layer.forwardAsync(x), 3],
    ['scaledDotProductAttention: workspace', () => lib.scaledDotProductAttention(q, q, q), 0],
    ['scaledDotProductAttentionAsync: input copy', () => lib.scaledDotProductAttentionAsync(q, q, q), 0],
    ['scaledDotProductAttentionAsync: workspace, on the pool thread', () => lib.scaledDotProductAttentionAsync(q, q, q), 3],
  ];
  const results = [];
  for (const [name, call, skip] of cases) {
    inject('alloc', skip, 1);
    const r = await outcome(call);
    inject('alloc', 0, 0);
    results.push({ name, ...r });
  }
  // setWeights while an async call holds the weights must copy them first: that copy fails
  // (armed for this thread only: the running call allocates on a pool thread meanwhile).
  const running = layer.forwardAsync(x);
  inject('alloc', 0, 1, true);
  const r = await outcome(() => layer.setWeights({ bo: { data: new Float32Array(64).fill(1), shape: [64] } }));
  inject('alloc', 0, 0);
  results.push({ name: 'setWeights: copy on write while an async call holds the weights', ...r });
  const runningResult = await running;
  if (!same(runningResult.data, expected)) throw new Error('the call in flight during setWeights changed its result');
  // Everything still works, with unchanged weights.
  const after = await layer.forwardAsync(x);
  const afterSync = layer.forward(x);
  const sdpaAfter = await lib.scaledDotProductAttentionAsync(q, q, q);
  return {
    results,
    worksAfter: same(after.data, expected) && same(afterSync.data, expected) && same(sdpaAfter.data, expectedSdpa),
  };
}

async function threadCases() {
  // A fresh process: the pool has started no thread yet.
  lib.setNumThreads(4);
  const layer = new lib.MultiHeadAttention({ embedDim: 128, numHeads: 4, seed: 1 });
  const x = t([2, 512, 128], 3);
  inject('thread', 0, 1000);
  const results = [];
  let syncResult = null;
  results.push({
    name: 'forward (large) with no thread startable: runs on the caller',
    ...(await outcome(() => {
      syncResult = layer.forward(x).data.slice();
    })),
  });
  results.push({ name: 'forwardAsync with no thread startable', ...(await outcome(() => layer.forwardAsync(x))) });
  inject('thread', 0, 0);
  const after = await layer.forwardAsync(x);
  return { results, worksAfter: syncResult !== null && same(after.data, syncResult) };
}

// Key/value caches: every allocation of createCache, and of cached forward / forwardAsync
// calls of each kind (decode steps, a prefill through the fused kernel, a packed call mixing
// both, a subset of rows through cacheRows), made to fail one at a time (skip 0, 1, … until
// the call succeeds). Each failure must leave the cache's lengths unchanged and the cache
// not busy, and a retry must give the bits of a cache that never failed.
async function cacheCases() {
  lib.setNumThreads(2);
  const E = 64;
  const B = 2;
  const L = 64;
  const PROMPT = 20;
  const layer = new lib.MultiHeadAttention({
    embedDim: E,
    numHeads: 4,
    numKvHeads: 2,
    rotary: { dim: 16 },
    slidingWindow: 40,
    seed: 3,
  });
  const x = t([B, L, E], 5);
  // Tokens [t0, t1) of rows `rows`: [rows.length, t1 - t0, E].
  const slice = (t0, t1, rows = [0, 1]) => {
    const data = new Float32Array(rows.length * (t1 - t0) * E);
    for (const [i, b] of rows.entries()) data.set(x.data.subarray((b * L + t0) * E, (b * L + t1) * E), i * (t1 - t0) * E);
    return lib.tensor(data, [rows.length, t1 - t0, E]);
  };
  const prefilled = () => {
    const cache = layer.createCache({ batch: B, maxLength: L });
    layer.forward(slice(0, PROMPT), null, null, { cache });
    return cache;
  };
  const packedQuery = (() => {
    // Row 1 gets 1 token (decode kernel), row 0 gets 11 (fused kernel), in that order.
    const data = new Float32Array(12 * E);
    data.set(slice(PROMPT, PROMPT + 1, [1]).data, 0);
    data.set(slice(PROMPT, PROMPT + 11, [0]).data, E);
    return lib.tensor(data, [12, E]);
  })();
  // [name, query, extra options, lengths after]
  const shapes = [
    ['decode step of 1', slice(PROMPT, PROMPT + 1), {}, [PROMPT + 1, PROMPT + 1]],
    ['step of 3 for row 1 (cacheRows)', slice(PROMPT, PROMPT + 3, [1]), { cacheRows: [1] }, [PROMPT, PROMPT + 3]],
    ['prefill of 12 (fused kernel)', slice(PROMPT, PROMPT + 12), {}, [PROMPT + 12, PROMPT + 12]],
    ['packed 1 + 11', packedQuery, { sequenceLengths: [1, 11], cacheRows: [1, 0] }, [PROMPT + 11, PROMPT + 1]],
  ];
  const results = [];
  const record = (name, r, extra) => results.push({ name, ...r, ...extra });
  // createCache
  let created = null;
  for (let skip = 0; skip < 50 && !created; skip++) {
    inject('alloc', skip, 1);
    let cache = null;
    const r = await outcome(() => {
      cache = layer.createCache({ batch: B, maxLength: L });
    });
    inject('alloc', 0, 0);
    if (r.outcome === 'ok') created = cache;
    else record(`createCache: allocation ${skip}`, r, { call: 'createCache', unchanged: true, notBusy: true, retryOk: true });
  }
  // Empty, and [batch, numKvHeads, maxLength, keyDim + valueDim] floats.
  const createdOk = created?.lengths.every((n) => n === 0) && created.byteLength === B * 2 * L * 32 * 4;
  // Cached calls
  const succeededAt = {};
  for (const [shape, query, extra, lengthsAfter] of shapes) {
    const ref = prefilled();
    const want = layer.forward(query, null, null, { cache: ref, ...extra }).data.slice();
    for (const mode of ['forward', 'forwardAsync']) {
      const call = `${mode}: ${shape}`;
      const cache = prefilled();
      const run = () => layer[mode](query, null, null, { cache, ...extra });
      for (let skip = 0; skip < 50; skip++) {
        inject('alloc', skip, 1);
        let y = null;
        const r = await outcome(async () => {
          y = await run();
        });
        inject('alloc', 0, 0);
        const lengths = Array.from(cache.lengths);
        if (r.outcome === 'ok') {
          succeededAt[call] = skip;
          if (!same(y.data, want) || !same(lengths, lengthsAfter)) throw new Error(`${call}: wrong result or lengths`);
          break;
        }
        const unchanged = lengths.every((n) => n === PROMPT);
        const notBusy = !cache.busy;
        const retry = await outcome(async () => {
          y = await run();
        });
        const retryOk = retry.outcome === 'ok' && same(y.data, want) && same(Array.from(cache.lengths), lengthsAfter);
        record(`${call}: allocation ${skip}`, r, { call, unchanged, notBusy, retryOk });
        cache.truncate(PROMPT);
      }
    }
  }
  return { results, succeededAt, worksAfter: createdOk };
}

(kind === 'alloc' ? allocCases() : kind === 'cache' ? cacheCases() : threadCases()).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(2);
  },
);
