// forwardAsync with a key/value cache: the call takes its inputs (query, sequenceLengths,
// cacheRows) as they are when it is made and gives the sync path's bits; while it is in
// flight its cache refuses other calls and truncation (other caches of the same layer keep
// working); a call that fails -- refused before it is queued, or failing as it settles --
// commits nothing and leaves the cache free.
import { describe, expect, it } from 'vitest';
import { type AttentionCache, MultiHeadAttention, type Tensor } from '../../lib/index';
import { expectIdentical, makeLayer } from '../helpers/layers';
import { randomTensor } from '../helpers/reference';

const E = 32;
const OPTIONS = { embedDim: E, numHeads: 4, numKvHeads: 2, rotary: { dim: 6 }, slidingWindow: 24 } as const;

/** Rows [t0, t1) of each batch row of x [B, L, E]: [B, t1 - t0, E]. */
function slice(x: Tensor, t0: number, t1: number, rows?: number[]): Tensor {
  const [B, L] = x.shape as [number, number, number];
  const bs = rows ?? Array.from({ length: B }, (_, b) => b);
  const data = new Float32Array(bs.length * (t1 - t0) * E);
  for (const [i, b] of bs.entries()) data.set(x.data.subarray((b * L + t0) * E, (b * L + t1) * E), i * (t1 - t0) * E);
  return { data, shape: [bs.length, t1 - t0, E] };
}

/** Tokens [t0, t1[b]) of each row b, packed into one [T, E] query, and their counts. */
function packed(x: Tensor, t0: number[], t1: number[]): { query: Tensor; counts: number[] } {
  const [B, L] = x.shape as [number, number, number];
  const counts = Array.from({ length: B }, (_, b) => t1[b]! - t0[b]!);
  const data = new Float32Array(counts.reduce((a, n) => a + n, 0) * E);
  let at = 0;
  for (let b = 0; b < B; b++) {
    data.set(x.data.subarray((b * L + t0[b]!) * E, (b * L + t1[b]!) * E), at * E);
    at += counts[b]!;
  }
  return { query: { data, shape: [at, E] }, counts };
}

function setup(seed: number, B = 3, L = 40) {
  const { layer } = makeLayer(OPTIONS, seed);
  const x = randomTensor([B, L, E], seed + 1, 1);
  const prefilled = (prompt = 20) => {
    const cache = layer.createCache({ batch: B, maxLength: L });
    layer.forward(slice(x, 0, prompt), null, null, { cache });
    return cache;
  };
  return { layer, x, B, L, prefilled };
}

const IN_FLIGHT = /in flight/;

describe('forwardAsync with a cache: snapshot of the inputs, the sync path bit for bit', () => {
  it('a decode step (1 token), a step of 3, a prefill of 12: inputs overwritten with NaN right after the call', async () => {
    const { layer, x, prefilled } = setup(1);
    const a = prefilled();
    const b = prefilled();
    let t = 20;
    for (const size of [1, 3, 12, 1]) {
      const step = slice(x, t, t + size);
      const want = layer.forward(step, null, null, { cache: b });
      const copy = { data: step.data.slice(), shape: step.shape };
      const pending = layer.forwardAsync(copy, null, null, { cache: a });
      copy.data.fill(Number.NaN);
      const got = await pending;
      expectIdentical(got.data, want.data, `step of ${size} at ${t}`);
      expect(got.shape).toEqual(want.shape);
      t += size;
      expect(Array.from(a.lengths)).toEqual([t, t, t]);
    }
    expect(Array.from(a.lengths)).toEqual(Array.from(b.lengths));
  });

  it('packed calls and cacheRows: sequenceLengths and cacheRows overwritten right after the call', async () => {
    const { layer, x, prefilled } = setup(2);
    const a = prefilled(10);
    const b = prefilled(10);
    // Rows 2 and 0 (in that order) get 1 and 9 tokens: the decode and the fused kernel in one call.
    const { query, counts } = packed(slice(x, 0, 40, [2, 0]), [10, 10], [11, 19]);
    const cacheRows = new Int32Array([2, 0]);
    const sequenceLengths = new Int32Array(counts);
    const want = layer.forward(query, null, null, { cache: b, cacheRows: [2, 0], sequenceLengths: counts });
    const pending = layer.forwardAsync(query, null, null, { cache: a, cacheRows, sequenceLengths });
    query.data.fill(Number.NaN);
    cacheRows.set([1, 2]);
    sequenceLengths.set([9, 1]);
    expectIdentical((await pending).data, want.data, 'packed');
    expect(Array.from(a.lengths)).toEqual([19, 10, 11]);
    expect(Array.from(a.lengths)).toEqual(Array.from(b.lengths));
    // The cache holds what was appended, not what the arrays hold now: the next steps agree too.
    const next = slice(x, 19, 20, [0]);
    expectIdentical(
      (await layer.forwardAsync(next, null, null, { cache: a, cacheRows: [0] })).data,
      layer.forward(next, null, null, { cache: b, cacheRows: [0] }).data,
      'step after the packed call',
    );
  });

  it('an `out` array receives the result only when the call settles', async () => {
    const { layer, x, prefilled } = setup(3);
    const a = prefilled();
    const b = prefilled();
    const step = slice(x, 20, 21);
    const want = layer.forward(step, null, null, { cache: b }).data;
    const out = new Float32Array(want.length).fill(Number.NaN);
    const pending = layer.forwardAsync(step, null, null, { cache: a, out });
    expect(Number.isNaN(out[0]!)).toBe(true);
    const r = await pending;
    expect(r.data).toBe(out);
    expectIdentical(out, want);
  });
});

describe('a cache in use by an async call', () => {
  it('refuses forward, forwardAsync, truncate and reset; other caches of the layer keep working', async () => {
    const { layer, x, prefilled } = setup(4);
    const a = prefilled();
    const b = prefilled();
    const reference = prefilled();
    const want = layer.forward(slice(x, 20, 22), null, null, { cache: reference }).data;
    const pending = layer.forwardAsync(slice(x, 20, 22), null, null, { cache: a });
    try {
      expect(a.busy).toBe(true);
      expect(b.busy).toBe(false);
      // lengths are committed when the call settles: until then, the old ones.
      expect(Array.from(a.lengths)).toEqual([20, 20, 20]);
      expect(() => layer.forward(slice(x, 22, 23), null, null, { cache: a })).toThrow(IN_FLIGHT);
      expect(() => layer.forward(slice(x, 22, 23, [1]), null, null, { cache: a, cacheRows: [1] })).toThrow(IN_FLIGHT);
      await expect(layer.forwardAsync(slice(x, 22, 23), null, null, { cache: a })).rejects.toThrow(IN_FLIGHT);
      expect(() => a.truncate(5)).toThrow(IN_FLIGHT);
      expect(() => a.truncate([1, 2, 3])).toThrow(IN_FLIGHT);
      expect(() => a.reset()).toThrow(IN_FLIGHT);
      // The refusals are plain Errors (not RangeErrors: nothing was wrong with the arguments).
      let refusal: unknown;
      try {
        layer.forward(slice(x, 22, 23), null, null, { cache: a });
      } catch (e) {
        refusal = e;
      }
      expect(refusal).toBeInstanceOf(Error);
      expect(refusal).not.toBeInstanceOf(RangeError);
      expect(refusal).not.toBeInstanceOf(TypeError);
      expect(a.busy).toBe(true);
      // Cache B, meanwhile: sync and async, and an async call of its own in flight alongside.
      const bSync = layer.forward(slice(x, 20, 22), null, null, { cache: b }).data;
      expectIdentical(bSync, want, 'cache B while A is busy');
      const bAsync = layer.forwardAsync(slice(x, 22, 23), null, null, { cache: b });
      expect(b.busy).toBe(true);
      // And calls without a cache.
      expect(layer.forward(slice(x, 0, 5), null, null, { causal: true }).shape).toEqual([3, 5, E]);
      await bAsync;
      expect(Array.from(b.lengths)).toEqual([23, 23, 23]);
    } finally {
      expectIdentical((await pending).data, want, 'the call in flight');
    }
    expect(a.busy).toBe(false);
    expect(Array.from(a.lengths)).toEqual([22, 22, 22]);
    // A works again: truncate (by row, then all rows), the refused step, and the same bits as B.
    a.truncate([22, 21, 22]);
    a.truncate(21);
    expect(Array.from(a.lengths)).toEqual([21, 21, 21]);
    const stepA = layer.forward(slice(x, 21, 23), null, null, { cache: a }).data;
    b.truncate(21);
    expectIdentical(stepA, layer.forward(slice(x, 21, 23), null, null, { cache: b }).data, 'A after the await');
    expect(Array.from(a.lengths)).toEqual([23, 23, 23]);
  });

  it('several caches of one layer with calls in flight at once, each its own result', async () => {
    const { layer, x, prefilled } = setup(5);
    const caches = Array.from({ length: 6 }, () => prefilled());
    const sizes = [1, 2, 3, 8, 9, 12];
    const want = sizes.map((n) => layer.forward(slice(x, 20, 20 + n), null, null, { cache: prefilled() }).data);
    const pending = caches.map((cache, i) => layer.forwardAsync(slice(x, 20, 20 + sizes[i]!), null, null, { cache }));
    expect(caches.every((c) => c.busy)).toBe(true);
    const results = await Promise.all(pending);
    for (const [i, r] of results.entries()) {
      expectIdentical(r.data, want[i]!, `cache ${i}`);
      expect(caches[i]!.busy).toBe(false);
      expect(Array.from(caches[i]!.lengths)).toEqual(new Array(3).fill(20 + sizes[i]!));
    }
  });

  it('a cache dropped while its call is in flight: the call completes (it holds the memory)', async () => {
    const { layer, x, prefilled } = setup(6);
    const want = layer.forward(slice(x, 20, 21), null, null, { cache: prefilled() }).data;
    const start = () => layer.forwardAsync(slice(x, 20, 21), null, null, { cache: prefilled() });
    const pending = start();
    for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
    expectIdentical((await pending).data, want);
  });
});

describe('a failed forwardAsync commits nothing', () => {
  it('past maxLength: rejected with a RangeError before it is queued (never busy), lengths unchanged', async () => {
    const { layer, x, prefilled, L } = setup(7);
    const a = prefilled(L - 2);
    const pending = layer.forwardAsync(slice(x, 0, 3), null, null, { cache: a });
    expect(a.busy).toBe(false); // not queued
    await expect(pending).rejects.toThrow(RangeError);
    // One row of a packed call overflows (3 tokens into 2 free), the other has room: neither is appended.
    const q2 = packed(slice(x, 0, L, [0, 1]), [L - 2, 0], [L - 1, 3]);
    await expect(
      layer.forwardAsync(q2.query, null, null, { cache: a, cacheRows: [0, 1], sequenceLengths: q2.counts }),
    ).rejects.toThrow(RangeError);
    expect(a.busy).toBe(false);
    expect(Array.from(a.lengths)).toEqual([L - 2, L - 2, L - 2]);
    // And it still works: the last two tokens of every row.
    const b = prefilled(L - 2);
    expectIdentical(
      (await layer.forwardAsync(slice(x, L - 2, L), null, null, { cache: a })).data,
      layer.forward(slice(x, L - 2, L), null, null, { cache: b }).data,
    );
    expect(Array.from(a.lengths)).toEqual([L, L, L]);
  });

  it('`out` detached while the call runs: rejected as it settles; lengths unchanged, not busy; a retry gives the right result', async () => {
    const { layer, x, prefilled } = setup(8);
    const a = prefilled();
    const b = prefilled();
    for (const size of [1, 12]) {
      const t = a.lengths[0]!;
      const step = slice(x, t, t + size);
      const out = new Float32Array(3 * size * E);
      const pending = layer.forwardAsync(step, null, null, { cache: a, out });
      expect(a.busy).toBe(true);
      structuredClone(out.buffer, { transfer: [out.buffer] });
      expect(out.length).toBe(0); // detached
      await expect(pending).rejects.toThrow(/detached/);
      expect(a.busy).toBe(false);
      expect(Array.from(a.lengths)).toEqual([t, t, t]);
      // The retry appends at the same positions (over whatever the failed call wrote there).
      const again = await layer.forwardAsync(step, null, null, { cache: a });
      expectIdentical(again.data, layer.forward(step, null, null, { cache: b }).data, `retry of ${size}`);
      expect(Array.from(a.lengths)).toEqual([t + size, t + size, t + size]);
    }
  });

  it('a cache of another layer, and a cache of a layer with other sizes, are refused (RangeError)', async () => {
    const { layer, prefilled } = setup(9);
    const other = new MultiHeadAttention({ ...OPTIONS, seed: 9 });
    const foreign: AttentionCache = other.createCache({ batch: 3, maxLength: 40 });
    const a = prefilled();
    const q = randomTensor([3, 1, E], 10, 1);
    expect(() => layer.forward(q, null, null, { cache: foreign })).toThrow(RangeError);
    await expect(layer.forwardAsync(q, null, null, { cache: foreign })).rejects.toThrow(RangeError);
    await expect(other.forwardAsync(q, null, null, { cache: a })).rejects.toThrow(RangeError);
    expect(Array.from(foreign.lengths)).toEqual([0, 0, 0]);
    expect(Array.from(a.lengths)).toEqual([20, 20, 20]);
    expect(foreign.busy || a.busy).toBe(false);
  });
});
