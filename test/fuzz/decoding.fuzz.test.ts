// Property-based test of cached decoding: a random layer (grouped heads, odd head sizes,
// rotary of either convention, full or partial, a sliding window, with or without biases),
// random sequences, and a random schedule of appends to a cache -- batched steps of 1 to 12
// tokens for a random subset of rows in a random order (cacheRows), packed calls giving each
// chosen row its own count (sequenceLengths), sync or async, truncations followed by
// re-appending the same tokens, and appends past maxLength that must be refused whole.
// Property: every output row equals the same row of ONE full causal forward (no cache) of
// that row's whole sequence, and the cache's lengths are what the schedule appended.
// fast-check shrinks any failure to a small case and prints the seed (replay with
// FUZZ_SEED=<seed>; FUZZ_RUNS=<factor> runs more).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MultiHeadAttentionOptions, Tensor } from '../../lib/index';
import { makeLayer } from '../helpers/layers';
import { randomTensor, relErr, rng } from '../helpers/reference';
import { describeMismatch, params } from './fuzz-helpers';

/** Cached vs uncached output, relative L2 error (relErr) per output row. */
const TOL = 1e-5;

const layerArb = fc.record({
  E: fc.integer({ min: 1, max: 24 }),
  H: fc.integer({ min: 1, max: 4 }),
  /** Picks numKvHeads among the divisors of H. */
  kvPick: fc.nat(),
  keyDim: fc.constantFrom(1, 2, 3, 4, 5, 6, 8, 16, 17),
  valueDim: fc.integer({ min: 1, max: 9 }),
  outputDim: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
  rotary: fc.option(
    fc.record({
      /** Picks rotary.dim among the even sizes up to keyDim. */
      dimPick: fc.nat(),
      interleaved: fc.boolean(),
      base: fc.constantFrom(10000, 500, 10),
      linear: fc.boolean(),
    }),
    { nil: null },
  ),
  window: fc.option(fc.integer({ min: 1, max: 40 }), { nil: null }),
  useBias: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});
type LayerCase = typeof layerArb extends fc.Arbitrary<infer T> ? T : never;

/** One scheduled call. Raw numbers, interpreted against the cache's state when it runs. */
const opArb = fc.record({
  /** 0-4 batched step, 5-6 packed, 7 truncate, 8 append past maxLength (refused). */
  kind: fc.integer({ min: 0, max: 8 }),
  /** Bit mask choosing among the rows that still have tokens to append. */
  pick: fc.nat(),
  /** Seeds the order of the chosen rows (cacheRows order). */
  order: fc.nat(),
  /** Step size, or per-row counts for a packed call / truncation depths. */
  sizes: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
  async: fc.boolean(),
  /** When the call covers every cache row in order: leave cacheRows out. */
  omitRows: fc.boolean(),
});
type Op = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

const caseArb = fc.record({
  layer: layerArb,
  lengths: fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 4 }),
  /** Cache rows never used by any sequence (they must stay empty). */
  spareRows: fc.integer({ min: 0, max: 1 }),
  /** maxLength above the longest sequence. */
  slack: fc.integer({ min: 0, max: 3 }),
  /** Seeds the cache row of each sequence (a permutation). */
  rowSeed: fc.nat(),
  ops: fc.array(opArb, { minLength: 2, maxLength: 30, size: 'medium' }),
  dataSeed: fc.integer({ min: 1, max: 2 ** 30 }),
});

function layerOptions(c: LayerCase): Omit<MultiHeadAttentionOptions, 'seed'> {
  const divisors = Array.from({ length: c.H }, (_, i) => i + 1).filter((d) => c.H % d === 0);
  const options: Omit<MultiHeadAttentionOptions, 'seed'> = {
    embedDim: c.E,
    numHeads: c.H,
    numKvHeads: divisors[c.kvPick % divisors.length]!,
    keyDim: c.keyDim,
    valueDim: c.valueDim,
    useBias: c.useBias,
    slidingWindow: c.window,
  };
  if (c.outputDim !== undefined) options.outputDim = c.outputDim;
  if (c.rotary && c.keyDim >= 2) {
    const pairs = Math.floor(c.keyDim / 2);
    options.rotary = {
      dim: 2 * (1 + (c.rotary.dimPick % pairs)),
      base: c.rotary.base,
      interleaved: c.rotary.interleaved,
      scaling: c.rotary.linear ? { type: 'linear', factor: 2 } : null,
    };
  }
  return options;
}

/** A random permutation of 0..n-1. */
function permutation(n: number, seed: number): number[] {
  const next = rng(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** Relative error of one row, its scale floored by the sequence's mean row norm. */
function rowErr(actual: ArrayLike<number>, ref: ArrayLike<number>, floor: number): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = actual[i]!;
    const r = ref[i]!;
    if (Number.isNaN(a) || Number.isNaN(r)) return Infinity;
    num += (a - r) * (a - r);
    den += r * r;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), floor, 1e-30);
}

describe('cached decoding matches the full causal forward on random schedules', () => {
  it('random layers, sequences, steps, packed calls, subsets, truncations (fast-check)', async () => {
    let calls = 0;
    let checkedRows = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const options = layerOptions(c.layer);
        const { layer } = makeLayer(options, c.layer.seed);
        const E = layer.embedDim;
        const F = layer.outputDim;
        const S = c.lengths.length;
        const seqs = c.lengths.map((L, b) => randomTensor([L, E], c.dataSeed + b, 1));
        // The reference: one full causal forward per sequence, no cache.
        const refs = seqs.map((x) => layer.forward(x, null, null, { causal: true }).data);
        const floors = refs.map((r, b) => relErr(r, new Float32Array(r.length)) / Math.sqrt(c.lengths[b]!));
        const batch = S + c.spareRows;
        const maxLength = Math.max(...c.lengths) + c.slack;
        const cache = layer.createCache({ batch, maxLength });
        const rowOf = permutation(batch, c.rowSeed).slice(0, S); // sequence b → cache row
        const pos = new Array<number>(S).fill(0); // tokens of sequence b the cache holds

        const expectLengths = (when: string) => {
          const want = new Int32Array(batch);
          for (let b = 0; b < S; b++) want[rowOf[b]!] = pos[b]!;
          expect(Array.from(cache.lengths), `cache.lengths ${when}`).toEqual(Array.from(want));
        };

        /** One call appending counts[i] tokens of sequence group[i]; checks every output row. */
        const append = async (group: number[], counts: number[], packed: boolean, op: Op | null) => {
          const total = counts.reduce((a, n) => a + n, 0);
          const x = new Float32Array(total * E);
          let at = 0;
          group.forEach((b, i) => {
            x.set(seqs[b]!.data.subarray(pos[b]! * E, (pos[b]! + counts[i]!) * E), at * E);
            at += counts[i]!;
          });
          const T = counts[0]!;
          const query: Tensor = packed ? { data: x, shape: [total, E] } : { data: x, shape: [group.length, T, E] };
          const cacheRows = group.map((b) => rowOf[b]!);
          const identity = cacheRows.length === batch && cacheRows.every((r, i) => r === i);
          const callOptions = {
            cache,
            ...(identity && op?.omitRows ? {} : { cacheRows }),
            ...(packed ? { sequenceLengths: counts } : {}),
          };
          const y = op?.async
            ? await layer.forwardAsync(query, null, null, callOptions)
            : layer.forward(query, null, null, callOptions);
          calls++;
          expect(y.shape).toEqual(packed ? [total, F] : [group.length, T, F]);
          at = 0;
          group.forEach((b, i) => {
            for (let t = 0; t < counts[i]!; t++) {
              const p = pos[b]! + t;
              const got = y.data.subarray((at + t) * F, (at + t + 1) * F);
              const want = refs[b]!.subarray(p * F, (p + 1) * F);
              const e = rowErr(got, want, floors[b]!);
              if (!(e <= TOL)) {
                throw new Error(
                  `sequence ${b} (cache row ${rowOf[b]}) token ${p}, call of counts [${counts}] ` +
                    `${packed ? 'packed' : 'batched'}${op?.async ? ' async' : ''}: relErr ${e} > ${TOL} ` +
                    `(${describeMismatch(got, want)})`,
                );
              }
              checkedRows++;
            }
            pos[b]! += counts[i]!;
            at += counts[i]!;
          });
          expectLengths('after an append');
        };

        for (const op of c.ops) {
          const open = Array.from({ length: S }, (_, b) => b).filter((b) => pos[b]! < c.lengths[b]!);
          if (op.kind === 7) {
            // Truncate some rows (by row, or all with one number), then carry on: the same
            // tokens are appended again by later calls.
            if (op.pick % 4 === 0) {
              const n = Math.min(...pos) + (op.sizes[0]! % 3);
              cache.truncate(n);
              for (let b = 0; b < S; b++) pos[b] = Math.min(pos[b]!, n);
            } else {
              const target = cache.lengths;
              for (let b = 0; b < S; b++) {
                if ((op.pick >> b) & 1) pos[b] = Math.max(0, pos[b]! - (op.sizes[b]! % 9));
                target[rowOf[b]!] = pos[b]!;
              }
              cache.truncate(op.async ? target : Array.from(target));
            }
            expectLengths('after truncate');
            continue;
          }
          if (op.kind === 8) {
            // One row asked for more tokens than it has room for: refused, nothing appended
            // (to any row of the call, including those that had room).
            const b = op.pick % S;
            const over = maxLength - pos[b]! + 1 + (op.sizes[0]! % 3);
            const others = open.filter((o) => o !== b).slice(0, op.order % 2);
            const group = [...others, b];
            const counts = group.map((o) => (o === b ? over : 1));
            const query: Tensor = {
              data: new Float32Array((over + others.length) * E).fill(0.25),
              shape: [over + others.length, E],
            };
            const callOptions = { cache, cacheRows: group.map((o) => rowOf[o]!), sequenceLengths: counts };
            if (op.async) await expect(layer.forwardAsync(query, null, null, callOptions)).rejects.toThrow(RangeError);
            else expect(() => layer.forward(query, null, null, callOptions)).toThrow(RangeError);
            expect(cache.busy).toBe(false);
            expectLengths('after a refused overflow');
            continue;
          }
          if (open.length === 0) continue;
          let group = open.filter((_, i) => (op.pick >> i) & 1);
          if (group.length === 0) group = [open[op.pick % open.length]!];
          group = permutation(group.length, op.order).map((i) => group[i]!);
          const left = group.map((b) => c.lengths[b]! - pos[b]!);
          if (op.kind <= 4) {
            // A batched step: the same count for every chosen row, 1..12.
            const T = 1 + (op.sizes[0]! % Math.min(12, ...left));
            await append(
              group,
              group.map(() => T),
              false,
              op,
            );
          } else {
            // Packed: each row its own count; one in three may take all it has left (the
            // fused kernel), the others 1..12 (the decode kernel up to 8).
            const counts = group.map((_, i) => {
              const s = op.sizes[i]!;
              return s % 3 === 0 ? 1 + (Math.floor(s / 3) % left[i]!) : 1 + (s % Math.min(12, left[i]!));
            });
            await append(group, counts, true, op);
          }
        }
        // Finish every sequence in one packed call (long remainders take the fused kernel).
        const rest = Array.from({ length: S }, (_, b) => b).filter((b) => pos[b]! < c.lengths[b]!);
        if (rest.length > 0)
          await append(
            rest,
            rest.map((b) => c.lengths[b]! - pos[b]!),
            true,
            null,
          );
        expect(Array.from(cache.lengths).filter((_, r) => !rowOf.includes(r))).toEqual(new Array(c.spareRows).fill(0));
        expect(pos).toEqual(c.lengths);
        expectLengths('at the end');
      }),
      { ...params(150), seed: Number(process.env.FUZZ_SEED ?? 20240611) },
    );
    expect(calls).toBeGreaterThan(100);
    expect(checkedRows).toBeGreaterThan(1000);
  });
});
