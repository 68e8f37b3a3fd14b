// MultiHeadAttention against the float64 reference: configurations, the option matrix,
// mask broadcasting, rows with nothing to attend to, unbatched inputs, attention
// weights, `out`, sync vs async, and the weights API.
import { describe, expect, it } from 'vitest';
import { MultiHeadAttention, type MaskTensor, type MultiHeadAttentionOptions, type Weights } from '../../lib/index';
import {
  averageHeads,
  maskRowsFully,
  randomBoolMask,
  randomKeyLengths,
  randomMask,
  randomTensor,
  referenceMha,
} from '../helpers/reference';
import { MASK_SHAPES, expectClose, expectFinite, expectIdentical, makeLayer, poisoned } from '../helpers/layers';

type MaskKind = 'none' | 'bool' | 'additive';

// ---------------------------------------------------------------------------------------

const CONFIGS: { name: string; options: Omit<MultiHeadAttentionOptions, 'seed'> }[] = [
  { name: 'E=8 H=1', options: { embedDim: 8, numHeads: 1 } },
  { name: 'E=32 H=4', options: { embedDim: 32, numHeads: 4 } },
  { name: 'E=64 H=16 (Dk=4)', options: { embedDim: 64, numHeads: 16 } },
  { name: 'E=12 H=3 keyDim=5 valueDim=7', options: { embedDim: 12, numHeads: 3, keyDim: 5, valueDim: 7 } },
  { name: 'E=16 H=2 kdim=9 vdim=11 outputDim=10', options: { embedDim: 16, numHeads: 2, kdim: 9, vdim: 11, outputDim: 10 } },
  {
    name: 'E=10 H=7 keyDim=3 valueDim=2 kdim=5 vdim=4 outputDim=13',
    options: { embedDim: 10, numHeads: 7, keyDim: 3, valueDim: 2, kdim: 5, vdim: 4, outputDim: 13 },
  },
  { name: 'E=20 H=5 outputDim=3 useBias=false', options: { embedDim: 20, numHeads: 5, outputDim: 3, useBias: false } },
  { name: 'E=24 H=6 scale=0.37', options: { embedDim: 24, numHeads: 6, scale: 0.37 } },
  { name: 'E=18 H=3 scale=2.5 keyDim=4', options: { embedDim: 18, numHeads: 3, keyDim: 4, scale: 2.5 } },
];

describe.each(CONFIGS)('MultiHeadAttention $name', ({ options }) => {
  const { layer, weights, config } = makeLayer(options, 11);
  const selfCapable = layer.kdim === layer.embedDim && layer.vdim === layer.embedDim;

  // Self-attention needs key and value inputs of the query's size.
  const selfCases = selfCapable
    ? [
        { L: 1, range: 1 },
        { L: 3, range: 10 },
        { L: 17, range: 1 },
        { L: 17, range: 0.05 },
      ]
    : [];
  if (selfCases.length)
    it.each(selfCases)('self-attention L=$L range ±$range', ({ L, range }) => {
      const x = randomTensor([2, L, layer.embedDim], 100 + L, range);
      const y = layer.forward(x);
      expect(y.shape).toEqual([2, L, layer.outputDim]);
      expectClose(y.data, referenceMha(weights, config, x).output);
      // The same tensor passed three times is the same self-attention.
      expectIdentical(layer.forward(x, x, x).data, y.data);
    });

  it.each([
    { Lq: 1, Lk: 3, range: 1 },
    { Lq: 3, Lk: 1, range: 10 },
    { Lq: 17, Lk: 5, range: 1 },
    { Lq: 5, Lk: 17, range: 10 },
  ])('cross-attention Lq=$Lq Lk=$Lk range ±$range', ({ Lq, Lk, range }) => {
    const q = randomTensor([3, Lq, layer.embedDim], 200 + Lq, range);
    const k = randomTensor([3, Lk, layer.kdim], 300 + Lk, range);
    const v = randomTensor([3, Lk, layer.vdim], 400 + Lk, range);
    const y = layer.forward(q, k, v);
    expect(y.shape).toEqual([3, Lq, layer.outputDim]);
    expectClose(y.data, referenceMha(weights, config, q, k, v).output);
  });

  if (layer.kdim === layer.vdim)
    it('cross-attention over one memory tensor (value defaults to key)', () => {
      const q = randomTensor([2, 4, layer.embedDim], 501, 1);
      const m = randomTensor([2, 6, layer.kdim], 502, 1);
      const ref = referenceMha(weights, config, q, m, m).output;
      expectClose(layer.forward(q, m).data, ref);
      expectClose(layer.forward(q, m, m).data, ref);
      // A copy of the memory as value: a different code path, the same numbers.
      const copy = { data: m.data.slice(), shape: m.shape };
      expectClose(layer.forward(q, m, copy).data, ref);
    });
});

describe('every head count 1..16 (keyDim 3, valueDim 2, E = 10)', () => {
  it.each(Array.from({ length: 16 }, (_, i) => i + 1))('H=%i', (H) => {
    const { layer, weights, config } = makeLayer({ embedDim: 10, numHeads: H, keyDim: 3, valueDim: 2 }, 40 + H);
    const q = randomTensor([2, 5, 10], 50 + H, 1);
    const m = randomTensor([2, 6, 10], 60 + H, 1);
    const opts = { causal: true, mask: randomMask('bool', [2, H, 5, 6], 70 + H, 0.2) };
    const y = layer.forwardWithWeights(q, m, null, opts);
    const ref = referenceMha(weights, config, q, m, m, opts);
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
  });
});

describe('long sequences (several query blocks)', () => {
  const { layer, weights, config } = makeLayer({ embedDim: 16, numHeads: 2 }, 12);

  it('self-attention L=257', () => {
    const x = randomTensor([1, 257, 16], 601, 1);
    expectClose(layer.forward(x).data, referenceMha(weights, config, x).output);
  });

  it('causal self-attention L=257 with key lengths', () => {
    const x = randomTensor([2, 257, 16], 602, 1);
    const opts = { causal: true, keyLengths: [200, 257] };
    const y = layer.forwardWithWeights(x, null, null, opts);
    const ref = referenceMha(weights, config, x, null, null, opts);
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
  });

  it('cross-attention Lq=257 Lk=130 and Lq=40 Lk=257', () => {
    for (const [Lq, Lk] of [
      [257, 130],
      [40, 257],
    ] as const) {
      const q = randomTensor([2, Lq, 16], 603 + Lq, 10);
      const m = randomTensor([2, Lk, 16], 604 + Lk, 10);
      expectClose(layer.forward(q, m).data, referenceMha(weights, config, q, m).output);
    }
  });
});

describe('long keys: projections written head-major (Lk >= 512)', () => {
  // Self (one QKV GEMM), shared key/value (one KV GEMM) and separate inputs with
  // kdim != vdim (three GEMMs), each with a mask, causal and key lengths; B=2 so that a
  // projection chunk straddles two batch rows.
  const { layer, weights, config } = makeLayer({ embedDim: 12, numHeads: 3, keyDim: 5, valueDim: 3 }, 21);
  const other = makeLayer({ embedDim: 12, numHeads: 3, kdim: 7, vdim: 9, keyDim: 4, valueDim: 6 }, 22);

  it('self-attention L=520 with a bool mask, causal and key lengths', () => {
    const x = randomTensor([2, 520, 12], 701, 1);
    const opts = { mask: randomBoolMask([2, 1, 1, 520], 702), causal: true, keyLengths: [517, 300] };
    const y = layer.forwardWithWeights(x, null, null, opts);
    const ref = referenceMha(weights, config, x, null, null, opts);
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
  });

  it('cross-attention over one memory tensor, Lq=33 Lk=600, additive mask', () => {
    const q = randomTensor([2, 33, 12], 703, 10);
    const m = randomTensor([2, 600, 12], 704, 10);
    const opts = { mask: randomMask('additive', [33, 600], 705) as MaskTensor, keyLengths: [600, 555] };
    expectClose(layer.forward(q, m, m, opts).data, referenceMha(weights, config, q, m, m, opts).output);
  });

  it('separate key and value inputs (kdim 7, vdim 9), Lq=40 Lk=513, causal', () => {
    const q = randomTensor([2, 40, 12], 706, 1);
    const k = randomTensor([2, 513, 7], 707, 1);
    const v = randomTensor([2, 513, 9], 708, 1);
    const opts = { causal: true };
    expectClose(other.layer.forward(q, k, v, opts).data, referenceMha(other.weights, other.config, q, k, v, opts).output);
  });
});

// ---------------------------------------------------------------------------------------
// Every combination of mask kind × causal × keyLengths × out, self and cross.

const B = 3;
const H = 3;
const SCENARIOS = [
  { scenario: 'self L=7', Lq: 7, Lk: 7, self: true, separateValue: false },
  { scenario: 'cross Lq=5 < Lk=9', Lq: 5, Lk: 9, self: false, separateValue: false },
  { scenario: 'cross Lq=9 > Lk=5, separate value', Lq: 9, Lk: 5, self: false, separateValue: true },
];
const MATRIX = SCENARIOS.flatMap((s) =>
  (['none', 'bool', 'additive'] as MaskKind[]).flatMap((mask) =>
    [false, true].flatMap((causal) =>
      [false, true].flatMap((keyLengths) => [false, true].map((out) => ({ ...s, mask, causal, keyLengths, out }))),
    ),
  ),
);

describe('option matrix', () => {
  const { layer, weights, config } = makeLayer({ embedDim: 12, numHeads: H, keyDim: 5, valueDim: 6, outputDim: 7 }, 13);

  it.each(MATRIX)('$scenario mask=$mask causal=$causal keyLengths=$keyLengths out=$out', (c) => {
    const seed = c.Lq * 100 + c.Lk;
    const q = randomTensor([B, c.Lq, 12], seed, 1);
    const kv = c.self ? q : randomTensor([B, c.Lk, 12], seed + 1, 1);
    // Self: forward(q); cross: forward(q, kv) (value defaults to key) or a separate value.
    const value = c.separateValue ? randomTensor([B, c.Lk, 12], seed + 5, 10) : kv;
    const call = [q, c.self ? null : kv, value === kv ? null : value] as const;
    const mask = c.mask === 'none' ? null : randomMask(c.mask, [B, H, c.Lq, c.Lk], seed + 2, 0.3);
    const opts = {
      mask,
      causal: c.causal,
      keyLengths: c.keyLengths ? randomKeyLengths(B, c.Lk, seed + 3) : null,
    };
    const ref = referenceMha(weights, config, q, kv, value, opts);

    const out = c.out ? poisoned(B * c.Lq * 7) : undefined;
    const y = layer.forward(...call, { ...opts, out });
    if (out) expect(y.data).toBe(out);
    expect(y.shape).toEqual([B, c.Lq, 7]);
    expectFinite(y.data);
    expectClose(y.data, ref.output);

    const out2 = c.out ? poisoned(B * c.Lq * 7) : undefined;
    const yw = layer.forwardWithWeights(...call, { ...opts, out: out2 });
    if (out2) expect(yw.output.data).toBe(out2);
    expect(yw.weights.shape).toEqual([B, H, c.Lq, c.Lk]);
    expectFinite(yw.weights.data, 'weights');
    expectClose(yw.output.data, ref.output);
    expectClose(yw.weights.data, ref.probs, 1e-5, 'weights');
  });
});

// ---------------------------------------------------------------------------------------
// Mask shapes: anything that broadcasts to [B, H, Lq, Lk] = [2, 3, 4, 5].

describe('mask shapes', () => {
  const { layer, weights, config } = makeLayer({ embedDim: 12, numHeads: 3 }, 14);
  const q = randomTensor([2, 4, 12], 701, 1);
  const kv = randomTensor([2, 5, 12], 702, 1);

  it.each(MASK_SHAPES.flatMap((shape) => (['bool', 'additive'] as const).map((kind) => ({ shape, kind }))))(
    '$kind mask of shape $shape',
    ({ shape, kind }) => {
      const mask = randomMask(kind, shape, shape.length * 37 + shape[0]!, 0.35);
      const y = layer.forwardWithWeights(q, kv, null, { mask });
      const ref = referenceMha(weights, config, q, kv, kv, { mask });
      expectFinite(y.output.data);
      expectClose(y.output.data, ref.output);
      expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
    },
  );

  it('causal + keyLengths + a broadcast mask of shape [2, 1, 1, 5]', () => {
    const mask = randomMask('bool', [2, 1, 1, 5], 703, 0.3);
    const opts = { mask, causal: true, keyLengths: [3, 5] };
    expectClose(layer.forward(q, kv, null, opts).data, referenceMha(weights, config, q, kv, kv, opts).output);
  });

  it('an additive mask of finite values only (no -Infinity) shifts the softmax', () => {
    const mask = { data: Float32Array.from({ length: 20 }, (_, i) => ((i * 7) % 11) - 5), shape: [4, 5] };
    expectClose(layer.forward(q, kv, null, { mask }).data, referenceMha(weights, config, q, kv, kv, { mask }).output);
  });
});

// ---------------------------------------------------------------------------------------
// Rows with nothing to attend to: attention output 0, so the layer's output is exactly bo,
// and their weights are 0 — never NaN.

describe('rows with nothing to attend to', () => {
  const E = 12;
  const { layer, weights, config } = makeLayer({ embedDim: E, numHeads: 3, outputDim: 5 }, 15);
  const bo = weights.bo!.data;
  const O = 5;

  function expectRowIsBias(out: Float32Array, b: number, Lq: number, i: number) {
    const row = Array.from(out.subarray((b * Lq + i) * O, (b * Lq + i + 1) * O));
    expect(row, `output row (b=${b}, i=${i})`).toEqual(Array.from(bo));
  }
  function expectWeightsRowZero(w: Float32Array, Lq: number, Lk: number, b: number, h: number, i: number) {
    const row = w.subarray(((b * 3 + h) * Lq + i) * Lk, ((b * 3 + h) * Lq + i + 1) * Lk);
    expect(Array.from(row), `weights row (b=${b}, h=${h}, i=${i})`).toEqual(new Array(Lk).fill(0));
  }

  it.each(['bool', 'additive'] as const)('%s mask masking whole rows in every head', (kind) => {
    const q = randomTensor([2, 4, E], 801, 1);
    const kv = randomTensor([2, 6, E], 802, 1);
    const mask = randomMask(kind, [2, 3, 4, 6], 803, 0.2);
    const full: [number, number, number][] = [];
    for (let h = 0; h < 3; h++) full.push([0, h, 1], [1, h, 0], [1, h, 3]);
    full.push([0, 2, 3]); // one head only: a partial row, not the bias
    maskRowsFully(mask, full);
    const y = layer.forwardWithWeights(q, kv, null, { mask });
    const ref = referenceMha(weights, config, q, kv, kv, { mask });
    expectFinite(y.output.data);
    expectFinite(y.weights.data, 'weights');
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
    for (const [b, i] of [
      [0, 1],
      [1, 0],
      [1, 3],
    ] as const)
      expectRowIsBias(y.output.data, b, 4, i);
    for (const [b, h, i] of full) expectWeightsRowZero(y.weights.data, 4, 6, b, h, i);
  });

  it('a mask that masks everything', () => {
    const q = randomTensor([2, 3, E], 804, 1);
    for (const mask of [
      { data: new Uint8Array(1), shape: [1] },
      { data: new Float32Array([-Infinity]), shape: [1, 1, 1, 1] },
    ] as MaskTensor[]) {
      const y = layer.forwardWithWeights(q, null, null, { mask });
      for (let b = 0; b < 2; b++) for (let i = 0; i < 3; i++) expectRowIsBias(y.output.data, b, 3, i);
      expect(Array.from(y.weights.data)).toEqual(new Array(2 * 3 * 3 * 3).fill(0));
    }
  });

  it('keyLengths 0: the whole batch row is the bias', () => {
    const q = randomTensor([3, 5, E], 805, 10);
    const kv = randomTensor([3, 7, E], 806, 10);
    const opts = { keyLengths: new Int32Array([0, 4, 0]) };
    const y = layer.forwardWithWeights(q, kv, null, opts);
    expectClose(y.output.data, referenceMha(weights, config, q, kv, kv, opts).output);
    for (const b of [0, 2]) {
      for (let i = 0; i < 5; i++) {
        expectRowIsBias(y.output.data, b, 5, i);
        for (let h = 0; h < 3; h++) expectWeightsRowZero(y.weights.data, 5, 7, b, h, i);
      }
    }
  });

  it('causal with Lq > Lk: the first Lq - Lk queries see nothing', () => {
    const q = randomTensor([2, 9, E], 807, 1);
    const kv = randomTensor([2, 4, E], 808, 1);
    const y = layer.forwardWithWeights(q, kv, null, { causal: true });
    const ref = referenceMha(weights, config, q, kv, kv, { causal: true });
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
    for (let b = 0; b < 2; b++) {
      for (let i = 0; i < 5; i++) {
        expectRowIsBias(y.output.data, b, 9, i);
        for (let h = 0; h < 3; h++) expectWeightsRowZero(y.weights.data, 9, 4, b, h, i);
      }
    }
  });

  it('causal with Lq < Lk: every query sees at least Lk - Lq + 1 keys', () => {
    const q = randomTensor([2, 3, E], 809, 1);
    const kv = randomTensor([2, 8, E], 810, 1);
    const y = layer.forwardWithWeights(q, kv, null, { causal: true });
    const ref = referenceMha(weights, config, q, kv, kv, { causal: true });
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
    // Query i sees keys 0..i+5 exactly.
    for (let i = 0; i < 3; i++) {
      const row = y.weights.data.subarray(i * 8, (i + 1) * 8);
      for (let j = 0; j < 8; j++) expect(row[j]! > 0, `weights[0,0,${i},${j}]`).toBe(j <= i + 5);
    }
  });

  it('mask, causal and keyLengths that together leave nothing', () => {
    const q = randomTensor([1, 4, E], 811, 1);
    const kv = randomTensor([1, 6, E], 812, 1);
    // Keys 0..1 real, causal lets query 0 see keys 0..2, the mask hides keys 0..1 for query 0.
    const mask = { data: new Uint8Array(24).fill(1), shape: [4, 6] };
    mask.data[0] = 0;
    mask.data[1] = 0;
    const opts = { mask, causal: true, keyLengths: [2] };
    const y = layer.forward(q, kv, null, opts);
    expectClose(y.data, referenceMha(weights, config, q, kv, kv, opts).output);
    expectRowIsBias(y.data, 0, 4, 0);
  });
});

// ---------------------------------------------------------------------------------------

describe('unbatched [L, E] inputs', () => {
  const { layer, weights, config } = makeLayer({ embedDim: 16, numHeads: 4, kdim: 6, vdim: 6, outputDim: 9 }, 16);

  it('give unbatched outputs equal to the reference', () => {
    const q = randomTensor([5, 16], 901, 1);
    const m = randomTensor([7, 6], 902, 10);
    const y = layer.forward(q, m);
    expect(y.shape).toEqual([5, 9]);
    expectClose(y.data, referenceMha(weights, config, q, m, m).output);
  });

  it('with a mask, causal, keyLengths, weights and averageHeads', () => {
    const q = randomTensor([5, 16], 903, 1);
    const m = randomTensor([7, 6], 904, 1);
    const mask = randomMask('bool', [4, 5, 7], 905, 0.3);
    const opts = { mask, causal: true, keyLengths: [6] };
    const ref = referenceMha(weights, config, q, m, m, opts);
    const y = layer.forwardWithWeights(q, m, null, opts);
    expect(y.output.shape).toEqual([5, 9]);
    expect(y.weights.shape).toEqual([4, 5, 7]);
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
    const avg = layer.forwardWithWeights(q, m, null, { ...opts, averageHeads: true });
    expect(avg.weights.shape).toEqual([5, 7]);
    expectClose(avg.weights.data, averageHeads(ref.probs, 1, 4, 5, 7), 1e-5, 'averaged weights');
  });

  it('unbatched self-attention equals the batched B=1 call', () => {
    const { layer: selfLayer } = makeLayer({ embedDim: 8, numHeads: 2 }, 17);
    const x = randomTensor([6, 8], 906, 1);
    const y = selfLayer.forward(x);
    expect(y.shape).toEqual([6, 8]);
    expectIdentical(y.data, selfLayer.forward({ data: x.data, shape: [1, 6, 8] }).data);
  });
});

// ---------------------------------------------------------------------------------------

describe('inputs that are views into larger buffers (odd offsets)', () => {
  /** A copy of `t` placed at element `offset` of a larger, junk-filled buffer. */
  function atOffset<T extends Float32Array | Uint8Array>(data: T, offset: number): T {
    const Ctor = data.constructor as new (n: number) => T;
    const big = new Ctor(data.length + offset + 5);
    big.fill((data instanceof Uint8Array ? 7 : NaN) as never);
    big.set(data as never, offset);
    return big.subarray(offset, offset + data.length) as T;
  }

  it('query, key, value, mask, keyLengths and out at unaligned offsets', () => {
    const { layer, weights, config } = makeLayer({ embedDim: 12, numHeads: 3, kdim: 7, vdim: 5 }, 21);
    const q = randomTensor([2, 5, 12], 1401, 1);
    const k = randomTensor([2, 6, 7], 1402, 1);
    const v = randomTensor([2, 6, 5], 1403, 1);
    const mask = randomBoolMask([2, 1, 5, 6], 1404, 0.7);
    const keyLengths = new Int32Array([9, 6, 4, 9]).subarray(1, 3);
    const ref = referenceMha(weights, config, q, k, v, { mask, keyLengths, causal: true }).output;
    const out = atOffset(poisoned(2 * 5 * 12), 3);
    const y = layer.forward(
      { data: atOffset(q.data, 1), shape: q.shape },
      { data: atOffset(k.data, 3), shape: k.shape },
      { data: atOffset(v.data, 5), shape: v.shape },
      { mask: { data: atOffset(mask.data, 1), shape: mask.shape }, keyLengths, causal: true, out },
    );
    expect(y.data).toBe(out);
    expectClose(out, ref);
  });

  it('self-attention on a view, and a Uint8 mask with values other than 1 (any nonzero attends)', () => {
    const { layer, weights, config } = makeLayer({ embedDim: 8, numHeads: 2 }, 22);
    const x = randomTensor([2, 6, 8], 1405, 10);
    const mask = randomBoolMask([6, 6], 1406, 0.7);
    const loud = { data: Uint8Array.from(mask.data, (m, i) => (m ? 1 + ((i * 37) % 255) : 0)), shape: mask.shape };
    const ref = referenceMha(weights, config, x, null, null, { mask }).output;
    const view = { data: atOffset(x.data, 7), shape: x.shape };
    expectClose(layer.forward(view, null, null, { mask: loud }).data, ref);
  });
});

// ---------------------------------------------------------------------------------------

describe('forwardWithWeights', () => {
  const { layer, weights, config } = makeLayer({ embedDim: 20, numHeads: 4, keyDim: 3, valueDim: 6 }, 18);
  const q = randomTensor([2, 6, 20], 1001, 1);
  const kv = randomTensor([2, 11, 20], 1002, 1);
  const mask = randomMask('additive', [2, 1, 6, 11], 1003, 0.25);
  const ref = referenceMha(weights, config, q, kv, kv, { mask });

  it('returns the probabilities [B, H, Lq, Lk]; rows sum to 1', () => {
    const y = layer.forwardWithWeights(q, kv, kv, { mask });
    expect(y.weights.shape).toEqual([2, 4, 6, 11]);
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, ref.probs, 1e-5, 'weights');
    for (let r = 0; r < 2 * 4 * 6; r++) {
      let s = 0;
      for (let j = 0; j < 11; j++) s += y.weights.data[r * 11 + j]!;
      expect(Math.abs(s - 1)).toBeLessThan(1e-5);
    }
  });

  it('averageHeads gives [B, Lq, Lk], the mean over heads', () => {
    const y = layer.forwardWithWeights(q, kv, kv, { mask, averageHeads: true });
    expect(y.weights.shape).toEqual([2, 6, 11]);
    expectClose(y.output.data, ref.output);
    expectClose(y.weights.data, averageHeads(ref.probs, 2, 4, 6, 11), 1e-5, 'averaged weights');
  });

  it('forwardWithWeightsAsync gives the same bits', async () => {
    const sync = layer.forwardWithWeights(q, kv, kv, { mask });
    const asy = await layer.forwardWithWeightsAsync(q, kv, kv, { mask });
    expectIdentical(asy.output.data, sync.output.data);
    expectIdentical(asy.weights.data, sync.weights.data, 'weights');
  });

  it('gives the same output as forward', () => {
    expectIdentical(layer.forwardWithWeights(q, kv, kv, { mask }).output.data, layer.forward(q, kv, kv, { mask }).data);
  });
});

// ---------------------------------------------------------------------------------------

describe('out', () => {
  const { layer, weights, config } = makeLayer({ embedDim: 8, numHeads: 2, outputDim: 6 }, 19);
  const x = randomTensor([2, 5, 8], 1101, 1);
  const ref = referenceMha(weights, config, x).output;

  it('forward writes every cell of the given array and returns it', () => {
    const out = poisoned(2 * 5 * 6);
    const y = layer.forward(x, null, null, { out });
    expect(y.data).toBe(out);
    expectFinite(out);
    expectClose(out, ref);
  });

  it('forwardAsync and forwardWithWeights too', async () => {
    const out = poisoned(60);
    const y = await layer.forwardAsync(x, null, null, { out });
    expect(y.data).toBe(out);
    expectClose(out, ref);
    const out2 = poisoned(60);
    const yw = layer.forwardWithWeights(x, null, null, { out: out2, averageHeads: true });
    expect(yw.output.data).toBe(out2);
    expectClose(out2, ref);
  });

  it('a subarray view of a larger buffer: only its cells are written', () => {
    const big = poisoned(80);
    const out = big.subarray(10, 70);
    layer.forward(x, null, null, { out });
    expectClose(out, ref);
    for (const i of [...Array(10).keys(), ...Array.from({ length: 10 }, (_, k) => 70 + k)]) expect(big[i]).toBeNaN();
  });
});

// ---------------------------------------------------------------------------------------

describe('sync vs forwardAsync', () => {
  const { layer } = makeLayer({ embedDim: 24, numHeads: 4, kdim: 10, vdim: 24 }, 20);
  const q = randomTensor([3, 9, 24], 1201, 1);
  const k = randomTensor([3, 13, 10], 1202, 1);
  const v = randomTensor([3, 13, 24], 1203, 10);

  it.each([
    { name: 'no options', opts: {} },
    { name: 'causal', opts: { causal: true } },
    { name: 'bool mask + keyLengths', opts: { mask: randomMask('bool', [3, 1, 9, 13], 1204), keyLengths: [13, 0, 5] } },
    { name: 'additive mask + causal', opts: { mask: randomMask('additive', [9, 13], 1205), causal: true } },
  ])('$name: identical results', async ({ opts }) => {
    const sync = layer.forward(q, k, v, opts);
    const asy = await layer.forwardAsync(q, k, v, opts);
    expect(asy.shape).toEqual(sync.shape);
    expectIdentical(asy.data, sync.data);
  });
});

// ---------------------------------------------------------------------------------------

describe('weights', () => {
  function randomWeights(layer: MultiHeadAttention, seed: number): Weights {
    const out: Weights = {};
    const shapes = layer.weightShapes();
    for (const name of layer.weightNames)
      out[name] = randomTensor(shapes[name]!, seed + name.charCodeAt(0) * 7 + name.charCodeAt(1), 0.3);
    return out;
  }

  it.each([
    { name: 'packed (kdim = vdim = E)', options: { embedDim: 12, numHeads: 3 } },
    {
      name: 'unpacked (kdim ≠ vdim ≠ E)',
      options: { embedDim: 12, numHeads: 3, kdim: 5, vdim: 7, keyDim: 2, valueDim: 3, outputDim: 4 },
    },
    { name: 'useBias false', options: { embedDim: 12, numHeads: 2, useBias: false } },
  ])('getWeights/setWeights round trip: $name', ({ options }) => {
    const layer = new MultiHeadAttention({ ...options, seed: 1 });
    const w = randomWeights(layer, 5);
    layer.setWeights(w);
    const got = layer.getWeights();
    expect(Object.keys(got).sort()).toEqual([...layer.weightNames].sort());
    for (const name of layer.weightNames) {
      expect(got[name]!.shape, name).toEqual(w[name]!.shape);
      expectIdentical(got[name]!.data, w[name]!.data, name);
      expect(got[name]!.data).not.toBe(w[name]!.data);
    }
    // Copies both ways: changing the arrays afterwards changes nothing in the layer.
    w.wq!.data.fill(7);
    got.wo!.data.fill(7);
    expectIdentical(layer.getWeights().wq!.data, got.wq!.data, 'wq');
    expect(layer.getWeights().wo!.data[0]).not.toBe(7);
  });

  it('the weights set are the weights used (reference with the new weights)', () => {
    const layer = new MultiHeadAttention({ embedDim: 12, numHeads: 3, kdim: 5, vdim: 7, outputDim: 4, seed: 2 });
    const w = randomWeights(layer, 9);
    layer.setWeights(w);
    const q = randomTensor([2, 3, 12], 1301, 1);
    const k = randomTensor([2, 4, 5], 1302, 1);
    const v = randomTensor([2, 4, 7], 1303, 1);
    const config = {
      embedDim: 12,
      numHeads: 3,
      keyDim: 4,
      valueDim: 4,
      kdim: 5,
      vdim: 7,
      outputDim: 4,
      useBias: true,
      scale: 0.5,
    };
    expectClose(layer.forward(q, k, v).data, referenceMha(w, config, q, k, v).output);
  });

  it('setWeights with some names changes only those', () => {
    const layer = new MultiHeadAttention({ embedDim: 8, numHeads: 2, seed: 3 });
    const before = layer.getWeights();
    const bk = randomTensor([8], 1304, 1);
    layer.setWeights({ bk });
    const after = layer.getWeights();
    expectIdentical(after.bk!.data, bk.data, 'bk');
    for (const name of layer.weightNames.filter((n) => n !== 'bk')) expectIdentical(after[name]!.data, before[name]!.data, name);
  });

  it('same seed → same weights and outputs; different seed → different weights', () => {
    const options = { embedDim: 16, numHeads: 4, kdim: 6, vdim: 6 };
    const a = new MultiHeadAttention({ ...options, seed: 42 }).getWeights();
    const b = new MultiHeadAttention({ ...options, seed: 42 }).getWeights();
    const c = new MultiHeadAttention({ ...options, seed: 43 }).getWeights();
    for (const name of ['wq', 'wk', 'wv', 'wo'] as const) {
      expectIdentical(a[name]!.data, b[name]!.data, name);
      expect(
        a[name]!.data.some((x, i) => x !== c[name]!.data[i]),
        `${name} differs across seeds`,
      ).toBe(true);
      expect(
        a[name]!.data.every((x) => x !== 0),
        `${name} has no zeros`,
      ).toBe(true);
    }
    const q = randomTensor([1, 3, 16], 1305, 1);
    const m = randomTensor([1, 4, 6], 1306, 1);
    const l1 = new MultiHeadAttention({ ...options, seed: 42 });
    const l2 = new MultiHeadAttention({ ...options, seed: 42 });
    expectIdentical(l1.forward(q, m).data, l2.forward(q, m).data);
  });

  it('a fresh layer has zero biases and Glorot-bounded weights', () => {
    const layer = new MultiHeadAttention({ embedDim: 16, numHeads: 4, outputDim: 8, seed: 7 });
    const w = layer.getWeights();
    for (const name of ['bq', 'bk', 'bv', 'bo'] as const)
      expect(
        w[name]!.data.every((x) => x === 0),
        name,
      ).toBe(true);
    for (const name of ['wq', 'wk', 'wv', 'wo'] as const) {
      const [rows, cols] = w[name]!.shape as [number, number];
      const limit = Math.sqrt(6 / (rows + cols));
      expect(
        w[name]!.data.every((x) => Math.abs(x) <= limit),
        name,
      ).toBe(true);
    }
  });
});
