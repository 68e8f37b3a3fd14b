// Property-based tests: random shapes, masks (bool / additive, random broadcast shapes),
// causal and key-length combinations, thread counts 1 or 2, sync or async, with or without
// `out` and attention weights -- each compared against the float64 reference in
// test/helpers/reference.ts. fast-check shrinks any failure to a small case and prints the
// seed (replay with FUZZ_SEED=<seed>; FUZZ_RUNS=<factor> runs more).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scaledDotProductAttention, scaledDotProductAttentionAsync } from '../../lib/index';
import { randomTensor, referenceMha, referenceSdpa, relErr } from '../helpers/reference';
import {
  buildLayer,
  describeMismatch,
  FUZZ_TOL,
  makeKeyLengths,
  makeMask,
  maskLayoutArb,
  maskShape,
  params,
  withThreads,
} from './fuzz-helpers';

function check(actual: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(ref.length);
  const e = relErr(actual, ref);
  if (!(e <= FUZZ_TOL)) throw new Error(`${what}: relErr ${e} > ${FUZZ_TOL} (${describeMismatch(actual, ref)})`);
}

const mhaCaseArb = fc.record({
  B: fc.integer({ min: 1, max: 3 }),
  Lq: fc.integer({ min: 1, max: 40 }),
  Lk: fc.integer({ min: 1, max: 40 }),
  H: fc.integer({ min: 1, max: 6 }),
  keyDim: fc.integer({ min: 1, max: 12 }),
  valueDim: fc.integer({ min: 1, max: 12 }),
  E: fc.integer({ min: 1, max: 24 }),
  kdim: fc.integer({ min: 1, max: 24 }),
  vdim: fc.integer({ min: 1, max: 24 }),
  outputDim: fc.integer({ min: 1, max: 24 }),
  useBias: fc.boolean(),
  /** self: key = value = query; sharedKV: key === value (cross-attention over one memory). */
  inputs: fc.constantFrom('self', 'sharedKV', 'separate'),
  unbatched: fc.boolean(),
  mask: maskLayoutArb,
  causal: fc.boolean(),
  keyLengths: fc.boolean(),
  threads: fc.constantFrom(1, 2),
  mode: fc.constantFrom('forward', 'forwardAsync', 'forwardWithWeights', 'forwardWithWeightsAsync'),
  withOut: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});

describe('MultiHeadAttention matches the float64 reference on random problems', () => {
  it('random configurations, masks, causal, keyLengths, threads, sync/async (fast-check)', async () => {
    let count = 0;
    await fc.assert(
      fc.asyncProperty(mhaCaseArb, async (c) => {
        count++;
        // Self-attention needs one tensor for all three; shared K/V needs kdim = vdim.
        const kdim = c.inputs === 'self' ? c.E : c.kdim;
        const vdim = c.inputs === 'separate' ? c.vdim : kdim;
        const Lk = c.inputs === 'self' ? c.Lq : c.Lk;
        const B = c.unbatched ? 1 : c.B;
        const { layer, weights, config } = buildLayer(
          {
            embedDim: c.E,
            numHeads: c.H,
            keyDim: c.keyDim,
            valueDim: c.valueDim,
            kdim,
            vdim,
            outputDim: c.outputDim,
            useBias: c.useBias,
          },
          c.seed,
        );
        const shape = (L: number, F: number) => (c.unbatched ? [L, F] : [B, L, F]);
        const query = randomTensor(shape(c.Lq, c.E), c.seed + 1);
        const key = c.inputs === 'self' ? query : randomTensor(shape(Lk, kdim), c.seed + 2);
        const value = c.inputs === 'separate' ? randomTensor(shape(Lk, vdim), c.seed + 3) : key;
        const mask = makeMask(c.mask, maskShape(c.mask, [B, c.H, c.Lq, Lk]), c.seed + 4);
        const keyLengths = c.keyLengths ? makeKeyLengths(B, Lk, c.seed + 5) : null;
        const options = { mask, causal: c.causal, keyLengths };
        const out = c.withOut ? new Float32Array(B * c.Lq * c.outputDim).fill(NaN) : undefined;

        const ref = referenceMha(
          weights,
          config,
          query,
          c.inputs === 'self' ? null : key,
          c.inputs === 'separate' ? value : null,
          options,
        );
        await withThreads(c.threads, async () => {
          const callOptions = { ...options, ...(out ? { out } : {}) };
          const args = [query, c.inputs === 'self' ? null : key, c.inputs === 'separate' ? value : null] as const;
          if (c.mode === 'forward' || c.mode === 'forwardAsync') {
            const r = c.mode === 'forward' ? layer.forward(...args, callOptions) : await layer.forwardAsync(...args, callOptions);
            expect(r.shape).toEqual(shape(c.Lq, c.outputDim));
            if (out) expect(r.data).toBe(out);
            check(r.data, ref.output, 'output');
          } else {
            const r =
              c.mode === 'forwardWithWeights'
                ? layer.forwardWithWeights(...args, callOptions)
                : await layer.forwardWithWeightsAsync(...args, callOptions);
            check(r.output.data, ref.output, 'output');
            check(r.weights.data, ref.probs, 'attention weights');
          }
        });
      }),
      params(1500),
    );
    expect(count).toBeGreaterThan(0);
  });
});

const sdpaCaseArb = fc.record({
  B: fc.integer({ min: 1, max: 3 }),
  H: fc.integer({ min: 1, max: 6 }),
  Lq: fc.integer({ min: 1, max: 40 }),
  Lk: fc.integer({ min: 1, max: 40 }),
  Dk: fc.integer({ min: 1, max: 12 }),
  Dv: fc.integer({ min: 1, max: 12 }),
  scale: fc.option(fc.double({ min: -2, max: 2, noNaN: true }), { nil: undefined }),
  unbatched: fc.boolean(),
  mask: maskLayoutArb,
  causal: fc.boolean(),
  keyLengths: fc.boolean(),
  threads: fc.constantFrom(1, 2),
  async: fc.boolean(),
  withOut: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});

async function runSdpaCase(c: typeof sdpaCaseArb extends fc.Arbitrary<infer T> ? T : never): Promise<void> {
  const B = c.unbatched ? 1 : c.B;
  const s = (L: number, D: number) => (c.unbatched ? [c.H, L, D] : [B, c.H, L, D]);
  const q = randomTensor(s(c.Lq, c.Dk), c.seed + 1);
  const k = randomTensor(s(c.Lk, c.Dk), c.seed + 2);
  const v = randomTensor(s(c.Lk, c.Dv), c.seed + 3);
  const mask = makeMask(c.mask, maskShape(c.mask, [B, c.H, c.Lq, c.Lk]), c.seed + 4);
  const keyLengths = c.keyLengths ? makeKeyLengths(B, c.Lk, c.seed + 5) : null;
  const options = { mask, causal: c.causal, keyLengths, ...(c.scale !== undefined ? { scale: c.scale } : {}) };
  const ref = referenceSdpa(q.data, k.data, v.data, { B, H: c.H, Lq: c.Lq, Lk: c.Lk, Dk: c.Dk, Dv: c.Dv }, options);
  const out = c.withOut ? new Float32Array(B * c.H * c.Lq * c.Dv).fill(NaN) : undefined;
  await withThreads(c.threads, async () => {
    const o = { ...options, ...(out ? { out } : {}) };
    const r = c.async ? await scaledDotProductAttentionAsync(q, k, v, o) : scaledDotProductAttention(q, k, v, o);
    expect(r.shape).toEqual(s(c.Lq, c.Dv));
    check(r.data, ref.output, 'sdpa output');
  });
}

describe('scaledDotProductAttention matches the float64 reference on random problems', () => {
  it('small shapes (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(sdpaCaseArb, runSdpaCase), params(1500));
  });

  // Large enough that calls lease pool threads (>= 2^20 multiply-adds), so thread counts
  // 1 and 2 and the query-block split actually differ.
  it('larger shapes that run on the pool threads (fast-check)', async () => {
    const large = sdpaCaseArb.map((c) => ({ ...c, Lq: c.Lq * 7 + 30, Lk: c.Lk * 6 + 40, Dk: c.Dk + 20, Dv: c.Dv + 20 }));
    await fc.assert(fc.asyncProperty(large, runSdpaCase), params(40));
  });
});
