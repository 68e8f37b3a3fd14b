// The package's tensor: a plain object, row-major and contiguous.
import { describe, rangeError, shapeError, typeError } from './errors';
import { sizeOf } from './layout';

export interface Tensor<T extends Float32Array | Uint8Array = Float32Array> {
  data: T;
  shape: number[];
}

/** Data types a mask may have: Uint8Array (1 = may attend, 0 = masked) or Float32Array (added to scores). */
export type MaskTensor = Tensor<Uint8Array> | Tensor<Float32Array>;

/** Checks a dimension: a positive safe integer. */
export function checkDim(arg: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(arg, 'a positive integer', value);
  if (!Number.isSafeInteger(value) || value < 1) throw rangeError(arg, 'a positive integer', describe(value));
  return value;
}

/** Largest finite float32: the native side computes in float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** Checks a scalar that the native side will use as a float32 (e.g. the softmax scale). */
export function checkFloat32(arg: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(arg, 'a finite number', value);
  if (!(Math.abs(value) <= FLOAT32_MAX)) throw rangeError(arg, 'a finite float32 number', describe(value));
  return value;
}

/** Checks a shape (array of positive safe integers) and returns it (read at once, not kept). */
export function checkShape(arg: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw typeError(`${arg}.shape`, 'an array of positive integers', shape);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    // Fast path first: this runs on every call.
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 1) checkDim(`${arg}.shape[${i}]`, d);
  }
  return shape as number[];
}

/**
 * Makes a tensor. `data` is used as is when it is a Float32Array (no copy), otherwise
 * copied from an array of numbers. Its length must equal the product of `shape`.
 */
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor {
  const dims = [...checkShape('tensor', shape as number[])];
  let array: Float32Array;
  if (data instanceof Float32Array) array = data;
  else if (Array.isArray(data) || (ArrayBuffer.isView(data) && !(data instanceof DataView))) array = Float32Array.from(data as ArrayLike<number>);
  else throw typeError('tensor: data', 'a Float32Array or an array of numbers', data);
  const n = sizeOf(dims, 'tensor');
  if (array.length !== n) {
    throw rangeError('tensor: data', `${n} elements for shape [${dims.join(', ')}]`, `${array.length}`);
  }
  return { data: array, shape: dims };
}

/**
 * Checks that `value` is a tensor with a Float32Array whose length matches its shape,
 * with one of the accepted ranks. Returns its (copied) shape.
 */
export function checkTensor(arg: string, value: unknown, ranks: readonly number[]): number[] {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || Array.isArray(value)) {
    throw typeError(arg, 'a tensor { data: Float32Array, shape: number[] }', value);
  }
  const t = value as { data?: unknown; shape?: unknown };
  // isView checks the internal slot: a Proxy or an object that only borrows the prototype fails.
  if (!(t.data instanceof Float32Array) || !ArrayBuffer.isView(t.data)) throw typeError(`${arg}.data`, 'a Float32Array', t.data);
  const shape = checkShape(arg, t.shape);
  if (!ranks.includes(shape.length)) {
    throw rangeError(arg, `a tensor of rank ${ranks.join(' or ')}`, `rank ${shape.length} (shape [${shape.join(', ')}])`);
  }
  checkDataLength(arg, t.data, shape);
  return shape;
}

/** data.length must equal the product of shape; a detached buffer is reported as such. */
export function checkDataLength(arg: string, data: Float32Array | Uint8Array, shape: number[]): void {
  const n = sizeOf(shape, arg);
  if (data.length !== n) {
    if (data.length === 0 && isDetached(data)) throw new TypeError(`${arg}.data: its ArrayBuffer is detached`);
    throw rangeError(`${arg}.data`, `${n} elements for shape [${shape.join(', ')}]`, `${data.length}`);
  }
}

function isDetached(view: ArrayBufferView): boolean {
  const buffer = view.buffer as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  return view.byteLength === 0 && view.byteOffset === 0 && buffer.byteLength === 0;
}

/** Requires shape to equal expected, where a string entry matches anything (a named size). */
export function expectShape(arg: string, shape: readonly number[], expected: readonly (number | string)[]): void {
  let ok = shape.length === expected.length;
  for (let i = 0; ok && i < shape.length; i++) {
    if (typeof expected[i] === 'number' && shape[i] !== expected[i]) ok = false;
  }
  if (!ok) throw shapeError(arg, expected, shape);
}
