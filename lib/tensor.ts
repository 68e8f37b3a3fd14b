// The package's tensor: a plain object, row-major and contiguous.
import { formatShape, rangeError, typeError } from './errors';
import { sizeOf } from './layout';
import { checkShape } from './validate';

export interface Tensor<T extends Float32Array | Uint8Array = Float32Array> {
  data: T;
  shape: number[];
}

/** Data types a mask may have: Uint8Array (1 = may attend, 0 = masked) or Float32Array (added to scores). */
export type MaskTensor = Tensor<Uint8Array> | Tensor<Float32Array>;

/**
 * Makes a tensor. `data` is used as is when it is a Float32Array (no copy), otherwise
 * copied from an array of numbers. Its length must equal the product of `shape`.
 */
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor {
  const dims = [...checkShape('tensor', shape as number[])];
  let array: Float32Array;
  if (data instanceof Float32Array) array = data;
  else if (Array.isArray(data) || (ArrayBuffer.isView(data) && !(data instanceof DataView)))
    array = Float32Array.from(data as ArrayLike<number>);
  else throw typeError('tensor: data', 'a Float32Array or an array of numbers', data);
  const n = sizeOf(dims, 'tensor');
  if (array.length !== n) {
    throw rangeError('tensor: data', `${n} elements for shape ${formatShape(dims)}`, `${array.length}`);
  }
  return { data: array, shape: dims };
}
