// Grouped-query attention (numKvHeads < numHeads): every query head h reads key/value head
// floor(h / (numHeads / numKvHeads)), with keys and values projected once per key/value
// head and never expanded. Checked against the float64 reference (which repeats the
// key/value heads), for multi-query (1 key/value head), grouped and plain layers, with
// masks that differ per head, causal limits, key lengths, packed sequences and async calls.
import { describe, expect, it } from 'vitest';
import { MultiHeadAttention } from '../../lib/index';
import { expectClose, makeLayer } from '../helpers/layers';
import { randomBoolMask, randomKeyLengths, randomTensor, referenceMha } from '../helpers/reference';

describe('grouped-query attention against the float64 reference', () => {
  const layouts = [
    { numHeads: 4, numKvHeads: 1, embedDim: 32 }, // multi-query
    { numHeads: 4, numKvHeads: 2, embedDim: 32 },
    { numHeads: 6, numKvHeads: 3, embedDim: 24, keyDim: 5, valueDim: 7, kdim: 20, vdim: 9 },
    { numHeads: 4, numKvHeads: 4, embedDim: 32 }, // = plain multi-head attention
  ];

  it.each(layouts)('weights shapes: $numHeads query heads, $numKvHeads key/value heads', (options) => {
    const layer = new MultiHeadAttention({ ...options, seed: 1 });
    const Dk = options.keyDim ?? options.embedDim / options.numHeads;
    const Dv = options.valueDim ?? Dk;
    expect(layer.weightShapes()).toMatchObject({
      wq: [options.embedDim, options.numHeads * Dk],
      wk: [options.kdim ?? options.embedDim, options.numKvHeads * Dk],
      wv: [options.vdim ?? options.embedDim, options.numKvHeads * Dv],
      wo: [options.numHeads * Dv, options.embedDim],
    });
  });

  for (const [n, options] of layouts.entries()) {
    const { layer, weights, config } = makeLayer(options, 20 + n);
    const cross = options.kdim !== undefined;
    const E = options.embedDim;
    const H = options.numHeads;
    it.each([
      [2, 1, 1],
      [2, 3, 17],
      [1, 17, 3],
      [1, 600, 600],
    ])(`H=${H} Hkv=${options.numKvHeads}: B=%i Lq=%i Lk=%i, plain / causal / per-head mask / key lengths`, (B, Lq, Lk) => {
      const q = randomTensor([B, Lq, E], 100 * n + Lq, 1);
      const k = cross ? randomTensor([B, Lk, options.kdim!], 200 * n + Lk, 1) : Lq === Lk ? q : randomTensor([B, Lk, E], 7, 1);
      const v = cross ? randomTensor([B, Lk, options.vdim!], 300 * n + Lk, 1) : k;
      const variants = [
        {},
        { causal: true },
        { mask: randomBoolMask([B, H, Lq, Lk], 40 + n, 0.8) },
        { keyLengths: randomKeyLengths(B, Lk, 50 + n) },
      ];
      for (const opts of variants) {
        const got = layer.forward(q, k, v, opts);
        const ref = referenceMha(weights, config, q, k, v, opts);
        expectClose(got.data, ref.output, 1e-5, `${JSON.stringify(Object.keys(opts))}`);
      }
    });
  }

  it('packed sequences and async calls give the same results as separate sync calls', async () => {
    const { layer } = makeLayer({ numHeads: 8, numKvHeads: 2, embedDim: 64 }, 9);
    const lengths = [1, 30, 5];
    const x = randomTensor([36, 64], 3, 1);
    const packed = layer.forward(x, null, null, { sequenceLengths: lengths, causal: true });
    let start = 0;
    for (const n of lengths) {
      const part = { data: x.data.slice(start * 64, (start + n) * 64), shape: [n, 64] };
      const alone = layer.forward(part, null, null, { causal: true });
      expectClose(packed.data.subarray(start * 64, (start + n) * 64), alone.data, 1e-5, `sequence at ${start}`);
      start += n;
    }
    const later = await layer.forwardAsync(x, null, null, { sequenceLengths: lengths, causal: true });
    expect(Array.from(later.data)).toEqual(Array.from(packed.data));
  });
});

describe('grouped-query layers: bad input', () => {
  it('numKvHeads must divide numHeads', () => {
    expect(() => new MultiHeadAttention({ embedDim: 32, numHeads: 4, numKvHeads: 3 })).toThrow(
      'numKvHeads: expected a divisor of numHeads (4), got 3',
    );
    expect(() => new MultiHeadAttention({ embedDim: 32, numHeads: 4, numKvHeads: 0 })).toThrow(RangeError);
    expect(() => new MultiHeadAttention({ embedDim: 32, numHeads: 4, numKvHeads: '2' as never })).toThrow(TypeError);
  });

  it('forwardWithWeights is refused (no per-query-head probabilities are kept)', () => {
    const layer = new MultiHeadAttention({ embedDim: 32, numHeads: 4, numKvHeads: 2, seed: 1 });
    const x = randomTensor([1, 3, 32], 1, 1);
    expect(() => layer.forwardWithWeights(x)).toThrow(TypeError);
    expect(() => layer.forwardWithWeights(x)).toThrow('forwardWithWeights: not available on a grouped-query layer');
  });

  it('setWeights checks the key/value shapes', () => {
    const layer = new MultiHeadAttention({ embedDim: 32, numHeads: 4, numKvHeads: 1, seed: 1 });
    expect(() => layer.setWeights({ wk: randomTensor([32, 32], 1, 1) })).toThrow(
      'setWeights: wk: expected shape [32, 8], got [32, 32]',
    );
  });
});
