// SelfAttention, the tutorial's layer: call(values, keys, query, mask) with a 0 = masked
// mask of either dtype, against the float64 reference and against the underlying
// MultiHeadAttention.
import { beforeAll, describe, expect, it } from 'vitest';
import { SelfAttention, type Weights } from '../../lib/index';
import { randomTensor, referenceMha, rng, type RefMhaConfig } from '../helpers/reference';
import { expectClose, expectFinite, expectIdentical, refConfig } from '../helpers/layers';

const N = 32;
const L = 10;
const E = 256;
const HEADS = 8;

/** [N, 1, 1, L] keep-mask (1 = attend): row n hides a few random keys, never all of them. */
function paddingMask(seed: number): Uint8Array {
  const next = rng(seed);
  const mask = new Uint8Array(N * L).fill(1);
  for (let n = 0; n < N; n++) {
    const hidden = n % 4 === 0 ? 0 : 1 + Math.floor(next() * (L - 1)); // 0..L-1 keys hidden
    for (let j = L - hidden; j < L; j++) mask[n * L + j] = 0; // padding at the end, like the tutorial
    if (n % 5 === 1 && hidden < L - 1) mask[n * L] = 0; // and sometimes a hole at the front
  }
  return mask;
}

describe('SelfAttention(256, 8)', () => {
  let layer: SelfAttention;
  let weights: Weights;
  let config: RefMhaConfig;
  const values = randomTensor([N, L, E], 1, 1);
  const keys = randomTensor([N, L, E], 2, 1);
  const query = randomTensor([N, L, E], 3, 1);
  const maskData = paddingMask(4);
  const mask = { data: maskData, shape: [N, 1, 1, L] };
  let ref: Float64Array;

  beforeAll(() => {
    layer = new SelfAttention(E, HEADS, { seed: 5 });
    const biases: Weights = {};
    for (const [i, name] of (['bq', 'bk', 'bv', 'bo'] as const).entries()) biases[name] = randomTensor([E], 10 + i, 0.5);
    layer.setWeights(biases);
    weights = layer.getWeights();
    config = refConfig(layer.attention);
    ref = referenceMha(weights, config, query, keys, values, { mask }).output;
  });

  it('is a MultiHeadAttention of 8 heads of 32', () => {
    expect(layer.headDim).toBe(32);
    expect(config).toMatchObject({ embedDim: 256, numHeads: 8, keyDim: 32, valueDim: 32, kdim: 256, vdim: 256, outputDim: 256 });
    expect(config.scale).toBeCloseTo(1 / Math.sqrt(32), 12);
  });

  it('call(values, keys, query, mask [32, 1, 1, 10]) → [32, 10, 256] equal to the reference', () => {
    const y = layer.call(values, keys, query, mask);
    expect(y.shape).toEqual([N, L, E]);
    expectFinite(y.data);
    expectClose(y.data, ref);
  });

  it('equals attention.forward(query, keys, values, { mask })', () => {
    expectIdentical(layer.call(values, keys, query, mask).data, layer.attention.forward(query, keys, values, { mask }).data);
  });

  it('a Float32Array 0/1 mask means the same: 0 = masked', () => {
    const floatMask = { data: Float32Array.from(maskData), shape: [N, 1, 1, L] };
    expectIdentical(layer.call(values, keys, query, floatMask).data, layer.call(values, keys, query, mask).data);
  });

  it('a Float32Array mask of any nonzero values attends where it is nonzero', () => {
    const floatMask = { data: Float32Array.from(maskData, (m, i) => (m ? 0.5 + (i % 3) : 0)), shape: [N, 1, 1, L] };
    expectIdentical(layer.call(values, keys, query, floatMask).data, layer.call(values, keys, query, mask).data);
  });

  it('the mask matters, and the argument order is (values, keys, query)', () => {
    const unmasked = layer.call(values, keys, query);
    expectClose(unmasked.data, referenceMha(weights, config, query, keys, values).output);
    const swapped = layer.call(query, keys, values, mask);
    expectClose(swapped.data, referenceMha(weights, config, values, keys, query, { mask }).output);
    expect(swapped.data.some((x, i) => x !== ref[i])).toBe(true);
  });

  it('callAsync gives the same bits', async () => {
    const y = await layer.callAsync(values, keys, query, mask);
    expect(y.shape).toEqual([N, L, E]);
    expectIdentical(y.data, layer.call(values, keys, query, mask).data);
  });

  it('self-attention proper: values = keys = query', () => {
    const x = query;
    const y = layer.call(x, x, x, mask);
    expectClose(y.data, referenceMha(weights, config, x, x, x, { mask }).output);
  });

  it('different query and key lengths (values/keys 7, query 4) with a [N, 1, 4, 7] mask', () => {
    const small = new SelfAttention(16, 4, { seed: 6 });
    small.setWeights({ bo: randomTensor([16], 20, 1), bv: randomTensor([16], 21, 1) });
    const v = randomTensor([3, 7, 16], 22, 10);
    const k = randomTensor([3, 7, 16], 23, 10);
    const q = randomTensor([3, 4, 16], 24, 10);
    const next = rng(25);
    const m = { data: Float32Array.from({ length: 3 * 4 * 7 }, () => (next() < 0.7 ? 1 : 0)), shape: [3, 1, 4, 7] };
    const y = small.call(v, k, q, m);
    expect(y.shape).toEqual([3, 4, 16]);
    expectClose(
      y.data,
      referenceMha(small.getWeights(), refConfig(small.attention), q, k, v, {
        mask: { data: Uint8Array.from(m.data), shape: m.shape },
      }).output,
    );
  });
});
