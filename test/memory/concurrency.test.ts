// Concurrency: 1,000 overlapping forwardAsync calls of different shapes give exactly the
// results of sequential forward calls; worker_threads computing at the same time as the
// main thread get the main thread's results; and inputs dropped by JavaScript right after
// their async call may be collected at once, the call computing on its own copies
// (global.gc: vitest runs the test forks with --expose-gc).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MultiHeadAttention, scaledDotProductAttentionAsync, scaledDotProductAttention, type Tensor } from '../../lib/index';

const gc = (globalThis as { gc?: () => void }).gc;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function data(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296) * 2 - 1;
  }
  return a;
}
const tensorOf = (shape: number[], seed: number): Tensor => ({
  data: data(
    shape.reduce((a, b) => a * b, 1),
    seed,
  ),
  shape,
});

function expectSameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) expect.fail(`${what}: element ${i} differs: ${actual[i]} vs ${expected[i]}`);
  }
}

/** Call n's shapes and options: mostly small, every 50th large enough to use pool threads. */
function callSpec(n: number) {
  const large = n % 50 === 7;
  const B = 1 + (n % 3);
  const Lq = large ? 200 + (n % 37) : 1 + ((n * 7) % 23);
  const Lk = large ? 150 + (n % 29) : 1 + ((n * 5) % 19);
  const kl = n % 4 === 1 ? Int32Array.from({ length: B }, (_, b) => (n + b) % (Lk + 1)) : null;
  const mask = n % 5 === 2 ? { data: Uint8Array.from({ length: Lk }, (_, j) => ((n + j) % 3 === 0 ? 0 : 1)), shape: [Lk] } : null;
  return { B, Lq, Lk, options: { causal: n % 2 === 0, keyLengths: kl, mask } };
}

describe('1,000 overlapping forwardAsync calls', () => {
  it('give bit-for-bit the results of sequential forward calls', async () => {
    const layers = [
      new MultiHeadAttention({ embedDim: 32, numHeads: 4, seed: 1 }),
      new MultiHeadAttention({ embedDim: 24, numHeads: 3, kdim: 16, vdim: 8, outputDim: 12, seed: 2 }),
    ];
    const calls = Array.from({ length: 1000 }, (_, n) => {
      const layer = layers[n % 2]!;
      const s = callSpec(n);
      const query = tensorOf([s.B, s.Lq, layer.embedDim], 3 * n + 1);
      const key = tensorOf([s.B, s.Lk, layer.kdim], 3 * n + 2);
      const value = tensorOf([s.B, s.Lk, layer.vdim], 3 * n + 3);
      return { layer, query, key, value, options: s.options };
    });
    const expected = calls.map((c) => c.layer.forward(c.query, c.key, c.value, c.options).data);
    const started = performance.now();
    const results = await Promise.all(calls.map((c) => c.layer.forwardAsync(c.query, c.key, c.value, c.options)));
    console.log(`1000 overlapping forwardAsync calls: ${(performance.now() - started).toFixed(0)} ms`);
    for (const [n, r] of results.entries()) expectSameBits(r.data, expected[n]!, `call ${n}`);
  });

  it('mixed with scaledDotProductAttentionAsync and sync calls on the main thread meanwhile', async () => {
    const layer = new MultiHeadAttention({ embedDim: 16, numHeads: 2, seed: 5 });
    const x = tensorOf([2, 64, 16], 9);
    const q = tensorOf([2, 2, 64, 8], 10);
    const expectedMha = layer.forward(x, null, null, { causal: true }).data;
    const expectedSdpa = scaledDotProductAttention(q, q, q).data;
    const pending: Promise<Tensor>[] = [];
    for (let i = 0; i < 200; i++) {
      pending.push(i % 2 ? layer.forwardAsync(x, null, null, { causal: true }) : scaledDotProductAttentionAsync(q, q, q));
      if (i % 10 === 0) expectSameBits(layer.forward(x, null, null, { causal: true }).data, expectedMha, `sync call ${i}`);
    }
    const results = await Promise.all(pending);
    for (const [i, r] of results.entries()) expectSameBits(r.data, i % 2 ? expectedMha : expectedSdpa, `async call ${i}`);
  });
});

describe('worker_threads', () => {
  // The workers run the compiled package (dist/), the main thread lib/ (the same code):
  // one native module, one process-wide compute pool, several JS environments.
  const dist = path.join(process.env.NATIVE_ATTENTION_DIST ?? path.resolve(__dirname, '..', '..', 'dist'), 'index.js');
  const WORKER = `
    const { parentPort, workerData } = require('node:worker_threads');
    const lib = require(workerData.dist);
    function data(n, seed) {
      const a = new Float32Array(n);
      let s = seed >>> 0 || 1;
      for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = (s / 4294967296) * 2 - 1; }
      return a;
    }
    (async () => {
      const layer = new lib.MultiHeadAttention({ embedDim: 32, numHeads: 4, seed: 11 });
      const out = [];
      for (let n = 0; n < workerData.calls; n++) {
        const L = 8 + ((n * 13 + workerData.id) % 120);
        const x = { data: data(2 * L * 32, 1000 * workerData.id + n), shape: [2, L, 32] };
        const r = n % 2 ? await layer.forwardAsync(x, null, null, { causal: true }) : layer.forward(x, null, null, { causal: true });
        out.push(r.data);
      }
      parentPort.postMessage(out);
    })().catch((e) => { parentPort.postMessage({ error: String(e && e.stack) }); });
  `;

  it('4 workers and the main thread at once: every worker gets the main thread’s results', async () => {
    const WORKERS = 4;
    const CALLS = 40;
    const layer = new MultiHeadAttention({ embedDim: 32, numHeads: 4, seed: 11 });
    const inputsFor = (id: number) =>
      Array.from({ length: CALLS }, (_, n) => {
        const L = 8 + ((n * 13 + id) % 120);
        return tensorOf([2, L, 32], 1000 * id + n);
      });
    const workers = Array.from(
      { length: WORKERS },
      (_, id) => new Worker(WORKER, { eval: true, workerData: { dist, id, calls: CALLS } }),
    );
    const fromWorkers = workers.map(
      (w) =>
        new Promise<Float32Array[]>((resolve, reject) => {
          w.once('message', (m: Float32Array[] | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
          w.once('error', reject);
        }),
    );
    // The main thread computes meanwhile (async, so the workers' calls overlap with these).
    const expected = await Promise.all(
      Array.from({ length: WORKERS }, (_, id) =>
        Promise.all(inputsFor(id).map((x) => layer.forwardAsync(x, null, null, { causal: true }))),
      ),
    );
    const got = await Promise.all(fromWorkers);
    await Promise.all(workers.map((w) => w.terminate()));
    for (let id = 0; id < WORKERS; id++) {
      expect(got[id]!.length).toBe(CALLS);
      for (let n = 0; n < CALLS; n++) expectSameBits(got[id]![n]!, expected[id]![n]!.data, `worker ${id} call ${n}`);
    }
  });
});

// Async calls copy their inputs when called (snapshot semantics), so JavaScript may drop
// them at once: the GC may reclaim them while the calls still run, and the results are
// right all the same.
describe('inputs only an in-flight async call used', () => {
  it('global.gc is available', () => {
    expect(typeof gc).toBe('function');
  });

  it('may be collected while their call runs; results are right; all are collected', async () => {
    const layer = new MultiHeadAttention({ embedDim: 64, numHeads: 4, kdim: 48, vdim: 40, seed: 7 });
    const CALLS = 24;
    const settledAt: number[] = new Array(CALLS).fill(Infinity);
    const finalizedAt: { call: number; what: string; at: number }[] = [];
    let clock = 0;
    const registry = new FinalizationRegistry<{ call: number; what: string }>((held) =>
      finalizedAt.push({ ...held, at: clock++ }),
    );
    const shapes = (n: number) => ({ q: [2, 150 + n, 64], k: [2, 220, 48], v: [2, 220, 40] });
    const make = (n: number) => {
      const s = shapes(n);
      return {
        q: tensorOf(s.q, 10 * n + 1),
        k: tensorOf(s.k, 10 * n + 2),
        v: tensorOf(s.v, 10 * n + 3),
        mask: { data: Float32Array.from({ length: 220 }, (_, j) => (j % 7 === 3 ? -Infinity : 0)), shape: [220] },
        keyLengths: Int32Array.from([200 - n, 220]),
      };
    };
    const expected = Array.from({ length: CALLS }, (_, n) => {
      const c = make(n);
      return layer.forward(c.q, c.k, c.v, { mask: c.mask, keyLengths: c.keyLengths }).data;
    });

    const pending = Array.from({ length: CALLS }, (_, n) => {
      // Nothing but the call holds these after this function returns.
      const c = make(n);
      for (const [what, obj] of [
        ['query', c.q.data],
        ['key', c.k.data],
        ['value', c.v.data],
        ['mask', c.mask.data],
        ['keyLengths', c.keyLengths],
      ] as const) {
        registry.register(obj, { call: n, what });
      }
      return layer.forwardAsync(c.q, c.k, c.v, { mask: c.mask, keyLengths: c.keyLengths }).then((r) => {
        settledAt[n] = clock++;
        return r.data;
      });
    });
    // Garbage-collect and reuse memory hard while the calls run.
    let done = false;
    const all = Promise.all(pending).finally(() => {
      done = true;
    });
    while (!done) {
      let junk: Float32Array[] = [];
      for (let i = 0; i < 4; i++) junk.push(new Float32Array(1 << 18).fill(i));
      junk = [];
      void junk;
      gc!();
      await nextTurn();
    }
    const results = await all;
    for (const [n, r] of results.entries()) expectSameBits(r, expected[n]!, `call ${n}`);

    // Nothing keeps them: the native side holds copies, lib/ holds only the outputs.
    for (let i = 0; i < 50 && finalizedAt.length < CALLS * 5; i++) {
      gc!();
      await new Promise((r) => setTimeout(r, 10));
    }
    const early = finalizedAt.filter((f) => f.at < settledAt[f.call]!);
    console.log(`${early.length} of ${CALLS * 5} inputs were collected before their call settled`);
    expect(finalizedAt.length, 'inputs still alive after their calls settled').toBe(CALLS * 5);
  });
});
