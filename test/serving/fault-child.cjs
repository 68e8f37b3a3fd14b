// Child of fault-injection.test.ts, run with NATIVE_ATTENTION_FAULT_INJECTION=1: makes
// allocations or thread starts fail inside each entry point and records what JavaScript
// got, then checks that the same call works once the fault is gone. Prints one JSON line.
//   node fault-child.cjs <dist/index.js> alloc|thread
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

(kind === 'alloc' ? allocCases() : threadCases()).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err) => {
    process.stderr.write(`${err.stack}\n`);
    process.exit(2);
  },
);
