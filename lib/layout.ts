// Shapes → sizes and element strides: the one source of truth that the classes, the
// binding arguments and the tests share. Row-major, contiguous. Naming used everywhere:
// B batch, H heads, Lq/Lk query/key length, E embedding, Dk/Dv per-head key/value size.
import { rangeError } from './errors';
import { MAX_ELEMENTS } from './limits';

/** Element count of `shape`; RangeError when it is beyond MAX_ELEMENTS. */
export function sizeOf(shape: readonly number[], arg = 'shape'): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (n > MAX_ELEMENTS) throw rangeError(arg, `at most ${MAX_ELEMENTS} elements`, `${n} (shape [${shape.join(', ')}])`);
  return n;
}

/** Row-major element strides of a contiguous tensor. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/**
 * Strides that read a tensor of `shape` as if broadcast to `target` (numpy rules:
 * align on the right, missing leading axes and size-1 axes broadcast with stride 0).
 * Returns null when `shape` does not broadcast to `target`.
 */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] | null {
  if (shape.length > target.length) return null;
  const own = stridesOf(shape);
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === target[lead + i]) out[lead + i] = d === 1 ? 0 : own[i]!;
    else if (d !== 1) return null;
  }
  return out;
}
