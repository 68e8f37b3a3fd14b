// matmul (cblas_sgemm on the compute pool) against a float64 product, over odd and
// unequal M, N, K, including sizes large enough to be split across threads by rows and
// by columns.
import { describe, expect, it } from 'vitest';
import { matmul } from '../../lib/index';
import { randomTensor, referenceMatmul } from '../helpers/reference';
import { expectClose, expectFinite, poisoned } from '../helpers/layers';

const SIZES: { M: number; K: number; N: number; range: number }[] = [
  { M: 1, K: 1, N: 1, range: 1 },
  { M: 1, K: 3, N: 17, range: 10 },
  { M: 17, K: 3, N: 1, range: 1 },
  { M: 3, K: 17, N: 1000, range: 1 },
  { M: 1000, K: 17, N: 3, range: 0.05 },
  { M: 1, K: 1000, N: 1, range: 10 },
  { M: 257, K: 129, N: 65, range: 1 },
  // Either side of the engine's switch from its direct loops to cblas_sgemm (16384 MACs).
  { M: 16, K: 32, N: 32, range: 1 },
  { M: 16, K: 33, N: 32, range: 1 },
  // Big enough to be split across threads: by rows ...
  { M: 300, K: 200, N: 500, range: 1 },
  // ... and by columns (few rows, many columns), with N not a multiple of 16.
  { M: 3, K: 400, N: 1001, range: 1 },
  { M: 17, K: 1000, N: 257, range: 10 },
];

describe('matmul', () => {
  it.each(SIZES)('[$M, $K] · [$K, $N] range ±$range', ({ M, K, N, range }) => {
    const a = randomTensor([M, K], M * 7 + K, range);
    const b = randomTensor([K, N], N * 11 + K, range);
    const c = matmul(a, b);
    expect(c.shape).toEqual([M, N]);
    expectClose(c.data, referenceMatmul(a.data, b.data, M, N, K));
  });

  it.each([
    { M: 5, K: 7, N: 3 },
    { M: 3, K: 400, N: 1001 },
    { M: 300, K: 200, N: 500 },
  ])('out [$M, $N]: every cell written, the same array returned', ({ M, K, N }) => {
    const a = randomTensor([M, K], 1, 1);
    const b = randomTensor([K, N], 2, 1);
    const out = poisoned(M * N);
    const c = matmul(a, b, out);
    expect(c.data).toBe(out);
    expectFinite(out);
    expectClose(out, referenceMatmul(a.data, b.data, M, N, K));
  });

  // A single long dot product with random signs cancels: |Σ a·b| is ~√K times smaller
  // than Σ |a·b|, so its float32 relative error is ~1e-4 at K = 16384 whatever the
  // summation order. The meaningful bound there is against Σ |a·b| (the condition).
  it.each([
    { M: 1, K: 16384, N: 1 },
    { M: 1, K: 16385, N: 1 },
    { M: 2, K: 4096, N: 2 },
    { M: 1, K: 100000, N: 3 },
  ])('long dot products [$M, $K] · [$K, $N]: |error| <= 1e-5 · Σ|a·b|', ({ M, K, N }) => {
    const a = randomTensor([M, K], 3 + K, 1);
    const b = randomTensor([K, N], 4 + K, 1);
    const c = matmul(a, b).data;
    const ref = referenceMatmul(a.data, b.data, M, N, K);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let abs = 0;
        for (let k = 0; k < K; k++) abs += Math.abs(a.data[i * K + k]! * b.data[k * N + j]!);
        const err = Math.abs(c[i * N + j]! - ref[i * N + j]!);
        expect(err / abs, `element (${i}, ${j})`).toBeLessThanOrEqual(1e-5);
      }
    }
  });

  it('known small product', () => {
    const c = matmul(
      { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] },
      { data: new Float32Array([7, 8, 9, 10, 11, 12]), shape: [3, 2] },
    );
    expect(Array.from(c.data)).toEqual([58, 64, 139, 154]);
  });
});
