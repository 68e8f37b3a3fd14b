// Rotary embeddings, sliding windows and cached decoding against the float64 reference
// (test/helpers/reference.ts rotates and windows on its own, from the definitions), on
// fresh random inputs: rotate-half and interleaved, full and partial, plain and grouped
// heads; windows of 1 to 600 keys over sequences long enough to cross the fused kernel's
// blocks; decode steps over caches long enough to be split into several chunks.
import { afterAll, describe, expect, it } from 'vitest';
import { getNumThreads, setNumThreads, type Tensor } from '../../lib/index';
import { expectClose, expectIdentical, makeLayer } from '../helpers/layers';
import { randomKeyLengths, randomTensor, referenceMha } from '../helpers/reference';

/** Rows [t0, t1) of each batch row of x [B, L, E]: [B, t1 - t0, E]. */
function slice(x: Tensor, t0: number, t1: number): Tensor {
  const [B, L, E] = x.shape as [number, number, number];
  const data = new Float32Array(B * (t1 - t0) * E);
  for (let b = 0; b < B; b++) data.set(x.data.subarray((b * L + t0) * E, (b * L + t1) * E), b * (t1 - t0) * E);
  return { data, shape: [B, t1 - t0, E] };
}

const ROTARY = [
  { dim: 8, base: 10000, interleaved: false },
  { dim: 8, base: 500, interleaved: true },
  { dim: 4, base: 10000, interleaved: false }, // partial: features 4..7 pass unchanged
  { dim: 2, base: 10000, interleaved: true },
];

describe('rotary embeddings against the float64 reference', () => {
  for (const [n, rotary] of ROTARY.entries()) {
    for (const numKvHeads of [4, 2, 1]) {
      const { layer, weights, config } = makeLayer({ embedDim: 32, numHeads: 4, numKvHeads, rotary }, 60 + n * 3 + numKvHeads);
      it.each([
        [2, 1, 1],
        [2, 3, 3],
        [1, 17, 17],
        [2, 3, 17], // queries at positions 14..16 (aligned with the last keys)
        [1, 300, 300],
      ])(`${JSON.stringify(rotary)} Hkv=${numKvHeads}: B=%i Lq=%i Lk=%i, plain and causal`, (B, Lq, Lk) => {
        const x = randomTensor([B, Lk, 32], 1000 + Lk + n, 1);
        const q = Lq === Lk ? x : randomTensor([B, Lq, 32], 2000 + Lq, 1);
        for (const causal of [false, true]) {
          const got = layer.forward(q, x, x, { causal });
          expectClose(got.data, referenceMha(weights, config, q, x, x, { causal }).output, 1e-5, `causal ${causal}`);
        }
      });
    }
  }

  it('with exact probabilities too (heads copied head-major from 512 keys on: other strides)', () => {
    const { layer, weights, config } = makeLayer({ embedDim: 32, numHeads: 4, rotary: { dim: 6, interleaved: true } }, 71);
    for (const [B, Lq, Lk] of [
      [2, 17, 17],
      [1, 40, 600],
    ] as const) {
      const x = randomTensor([B, Lk, 32], 72 + Lk, 1);
      const q = Lq === Lk ? x : randomTensor([B, Lq, 32], 73, 1);
      const { output, weights: probs } = layer.forwardWithWeights(q, x, x, { causal: true });
      const ref = referenceMha(weights, config, q, x, x, { causal: true });
      expectClose(output.data, ref.output, 1e-5, `output, Lk ${Lk}`);
      expectClose(probs.data, ref.probs, 1e-5, `probabilities, Lk ${Lk}`);
    }
  });

  it('packed sequences start their positions at 0 each: the same as separate forwards', () => {
    const { layer } = makeLayer({ embedDim: 32, numHeads: 4, numKvHeads: 2, rotary: { dim: 8 } }, 77);
    const lengths = [5, 1, 17, 9];
    const T = lengths.reduce((a, b) => a + b, 0);
    const x = randomTensor([T, 32], 78, 1);
    const packed = layer.forward(x, null, null, { causal: true, sequenceLengths: lengths });
    let at = 0;
    for (const L of lengths) {
      const one = { data: x.data.slice(at * 32, (at + L) * 32), shape: [L, 32] };
      expectClose(packed.data.subarray(at * 32, (at + L) * 32), layer.forward(one, null, null, { causal: true }).data, 1e-6);
      at += L;
    }
  });
});

describe('sliding window against the float64 reference', () => {
  for (const window of [1, 5, 64, 600]) {
    // Grouped heads for two windows; plain ones (which give probabilities) for the others.
    const numKvHeads = window === 5 || window === 600 ? 4 : 2;
    const { layer, weights, config } = makeLayer({ embedDim: 32, numHeads: 4, numKvHeads, slidingWindow: window }, 90 + window);
    it.each([
      [2, 17, 17],
      [1, 300, 300],
      [1, 1000, 1000],
      [2, 5, 40], // queries aligned with the last keys
    ])(`window ${window}: B=%i Lq=%i Lk=%i, with and without key lengths; probabilities`, (B, Lq, Lk) => {
      const x = randomTensor([B, Lk, 32], 3000 + Lk + window, 1);
      const q = Lq === Lk ? x : randomTensor([B, Lq, 32], 4000 + Lq, 1);
      // Only some query rows of the long cases are checked: the reference is O(L²).
      const rows = Lq > 100 ? [0, 1, window - 1, window, window + 1, Lq - 2, Lq - 1].filter((r) => r >= 0 && r < Lq) : undefined;
      const pick = (y: Float32Array) => {
        if (!rows) return y;
        const out = new Float32Array(B * rows.length * 32);
        for (let b = 0; b < B; b++)
          rows.forEach((r, i) => {
            out.set(y.subarray((b * Lq + r) * 32, (b * Lq + r + 1) * 32), (b * rows.length + i) * 32);
          });
        return out;
      };
      for (const keyLengths of [null, randomKeyLengths(B, Lk, 5 + window)]) {
        const got = layer.forward(q, x, x, { keyLengths });
        const ref = referenceMha(weights, config, q, x, x, { causal: true, window, keyLengths, rows });
        expectClose(pick(got.data), ref.output, 1e-5, `keyLengths ${keyLengths}`);
      }
      if (Lq <= 300 && numKvHeads === 4) {
        const { output, weights: probs } = layer.forwardWithWeights(q, x, x);
        const ref = referenceMha(weights, config, q, x, x, { causal: true, window });
        expectClose(output.data, ref.output, 1e-5);
        expectClose(probs.data, ref.probs, 1e-5, 'probabilities');
      }
    });
  }

  it('the window changes the result (a window of the whole length does not)', () => {
    const x = randomTensor([1, 50, 32], 5, 1);
    const { layer: windowed } = makeLayer({ embedDim: 32, numHeads: 4, slidingWindow: 10 }, 6);
    const { layer: whole } = makeLayer({ embedDim: 32, numHeads: 4, slidingWindow: 50 }, 6);
    const { layer: plain } = makeLayer({ embedDim: 32, numHeads: 4 }, 6);
    const causal = plain.forward(x, null, null, { causal: true }).data;
    expectIdentical(whole.forward(x).data, causal);
    expect(() => expectClose(windowed.forward(x).data, causal, 1e-3)).toThrow();
    expect(() => windowed.forward(x, null, null, { causal: false })).toThrow(RangeError);
  });
});

describe('decoding over long caches against the float64 reference', () => {
  const threads = getNumThreads();
  afterAll(() => setNumThreads(threads));

  const layouts = [
    { numHeads: 4, numKvHeads: 2, rotary: { dim: 8 } },
    { numHeads: 32, numKvHeads: 1, keyDim: 8, rotary: { dim: 8, interleaved: true } }, // 32 heads share one: blocks of query heads
    { numHeads: 4, numKvHeads: 4, slidingWindow: 600, rotary: { dim: 4 } }, // window across chunks of 512 keys
    { numHeads: 4, numKvHeads: 2, slidingWindow: 3 },
  ];
  for (const [n, options] of layouts.entries()) {
    it(`${JSON.stringify(options)}: prefill 1090, steps of 1, 3 and 12 tokens, 1 and 2 threads alike`, () => {
      const { layer, weights, config } = makeLayer({ embedDim: 32, ...options }, 110 + n);
      const B = 2;
      const L = 1110;
      const x = randomTensor([B, L, 32], 120 + n, 1);
      const window = options.slidingWindow;
      const cache = layer.createCache({ batch: B, maxLength: L });
      layer.forward(slice(x, 0, 1090), null, null, { cache });
      // Steps of 1, 3 (decode kernel) and 12 tokens (fused kernel over the cache), each checked
      // row for row against the reference's full causal forward; each at 1 and 2 threads.
      const rows = [1090, 1091, 1092, 1093, 1094, 1095, 1096, 1097, 1098, 1109];
      const ref = referenceMha(weights, config, x, null, null, { causal: true, window, rows });
      const refRows = (r0: number, r1: number) => {
        const out = new Float64Array(B * (r1 - r0) * 32);
        for (let b = 0; b < B; b++)
          for (let r = r0; r < r1; r++) {
            const i = rows.indexOf(r);
            if (i < 0) continue;
            out.set(
              ref.output.subarray((b * rows.length + i) * 32, (b * rows.length + i + 1) * 32),
              (b * (r1 - r0) + r - r0) * 32,
            );
          }
        return out;
      };
      const check = (y: Tensor, r0: number, r1: number) => {
        const want = refRows(r0, r1);
        const got = new Float32Array(want.length);
        for (let b = 0; b < B; b++)
          for (let r = r0; r < r1; r++)
            if (rows.includes(r))
              got.set(
                y.data.subarray((b * (r1 - r0) + r - r0) * 32, (b * (r1 - r0) + r - r0 + 1) * 32),
                (b * (r1 - r0) + r - r0) * 32,
              );
        expectClose(got, want, 1e-5, `rows ${r0}..${r1 - 1}`);
      };
      let t = 1090;
      for (const size of [1, 3, 1, 1, 1, 1, 12]) {
        const step = slice(x, t, t + size);
        setNumThreads(1);
        const one = layer.forward(step, null, null, { cache });
        cache.truncate(t);
        setNumThreads(2);
        const two = layer.forward(step, null, null, { cache });
        expectIdentical(one.data, two.data, `step at ${t}: 1 vs 2 threads`);
        check(one, t, t + size);
        t += size;
      }
      expect(Array.from(cache.lengths)).toEqual([L, L]);
    });
  }
});
