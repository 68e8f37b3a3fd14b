import { native } from './binding';
import { shapeError } from './errors';
import type { Tensor } from './tensor';
import { checkTensor, outputArray } from './validate';

/** a [M, K] · b [K, N] → [M, N] with OpenBLAS sgemm on the compute pool's threads. */
export function matmul(a: Tensor, b: Tensor, out?: Float32Array): Tensor {
  const [M, K] = checkTensor('a', a, [2]) as [number, number];
  const [K2, N] = checkTensor('b', b, [2]) as [number, number];
  if (K2 !== K) throw shapeError('b', [K, 'N'], [K2, N]);
  const data = outputArray('out', out, M * N, () => [
    ['a', a.data],
    ['b', b.data],
  ]);
  native.matmul({ a: a.data, b: b.data, out: data, M, N, K });
  return { data, shape: [M, N] };
}
