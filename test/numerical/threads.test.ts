// The compute pool's thread count changes how the work is split, not the numbers:
// 1 thread and 2 threads agree to float rounding, and both match the reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNumThreads, matmul, scaledDotProductAttention, setNumThreads } from '../../lib/index';
import { randomTensor, referenceMha, referenceMatmul } from '../helpers/reference';
import { expectClose, makeLayer } from '../helpers/layers';

describe('setNumThreads(1) vs setNumThreads(2)', () => {
  let original: number;
  beforeAll(() => {
    original = getNumThreads();
  });
  afterAll(() => {
    setNumThreads(original);
    expect(getNumThreads()).toBe(original);
  });

  function withThreads<T>(n: number, fn: () => T): T {
    setNumThreads(n);
    expect(getNumThreads()).toBe(n);
    return fn();
  }

  it('MultiHeadAttention B=2 L=300 E=256 H=8 (self, causal, key lengths)', () => {
    const { layer, weights, config } = makeLayer({ embedDim: 256, numHeads: 8 }, 1);
    const x = randomTensor([2, 300, 256], 2, 1);
    const opts = { causal: true, keyLengths: [300, 211] };
    const one = withThreads(1, () => layer.forward(x, null, null, opts).data);
    const two = withThreads(2, () => layer.forward(x, null, null, opts).data);
    expectClose(two, one, 1e-6, '2 threads vs 1');
    expectClose(two, referenceMha(weights, config, x, null, null, opts).output);
    // Repeatable at a fixed thread count.
    expect(withThreads(2, () => layer.forward(x, null, null, opts).data)).toEqual(two);
  });

  it('MultiHeadAttention cross-attention with few query rows (column split)', () => {
    const { layer } = makeLayer({ embedDim: 256, numHeads: 8, kdim: 128, vdim: 96 }, 3);
    const q = randomTensor([1, 5, 256], 4, 1);
    const k = randomTensor([1, 700, 128], 5, 1);
    const v = randomTensor([1, 700, 96], 6, 1);
    const one = withThreads(1, () => layer.forward(q, k, v).data);
    const two = withThreads(2, () => layer.forward(q, k, v).data);
    expectClose(two, one, 1e-6, '2 threads vs 1');
  });

  it('scaledDotProductAttention B=2 H=8 L=300 D=32', () => {
    const q = randomTensor([2, 8, 300, 32], 7, 1);
    const k = randomTensor([2, 8, 300, 32], 8, 1);
    const v = randomTensor([2, 8, 300, 32], 9, 1);
    const one = withThreads(1, () => scaledDotProductAttention(q, k, v, { causal: true }).data);
    const two = withThreads(2, () => scaledDotProductAttention(q, k, v, { causal: true }).data);
    expectClose(two, one, 1e-6, '2 threads vs 1');
  });

  it('matmul 400 × 300 · 300 × 500', () => {
    const a = randomTensor([400, 300], 10, 1);
    const b = randomTensor([300, 500], 11, 1);
    const one = withThreads(1, () => matmul(a, b).data);
    const two = withThreads(2, () => matmul(a, b).data);
    expectClose(two, one, 1e-6, '2 threads vs 1');
    expectClose(two, referenceMatmul(a.data, b.data, 400, 500, 300));
  });
});
