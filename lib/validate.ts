// Every argument check of the public API, in one module: the classes, the functional
// API and the importers all validate through these, so a rule (and its message) has
// one definition. Messages come from errors.ts, in one format:
//   query: expected shape [B, L, 512], got [2, 7, 500]
import { describe, formatShape, rangeError, shapeError, typeError } from './errors';
import { sizeOf } from './layout';
import { MAX_BLAS_INT } from './limits';
import type { Tensor } from './tensor';

/** A positive safe integer. */
export function checkDim(arg: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(arg, 'a positive integer', value);
  if (!Number.isSafeInteger(value) || value < 1) throw rangeError(arg, 'a positive integer', describe(value));
  return value;
}

/** A layer size: a positive integer that BLAS's 32-bit int can hold. */
export function checkLayerDim(arg: string, value: unknown): number {
  const d = checkDim(arg, value);
  if (d > MAX_BLAS_INT) throw rangeError(arg, `a positive integer of at most ${MAX_BLAS_INT} (BLAS's 32-bit int)`, `${d}`);
  return d;
}

/** An optional boolean: `fallback` when undefined. */
export function checkBoolean(arg: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw typeError(arg, 'a boolean', value);
  return value;
}

/** An integer (any sign). */
export function checkInteger(arg: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(arg, 'an integer', value);
  if (!Number.isInteger(value)) throw rangeError(arg, 'an integer', describe(value));
  return value;
}

/** Largest finite float32: the native side computes in float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** A scalar that the native side will use as a float32 (e.g. the softmax scale). */
export function checkFloat32(arg: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(arg, 'a finite number', value);
  if (!(Math.abs(value) <= FLOAT32_MAX)) throw rangeError(arg, 'a finite float32 number', describe(value));
  return value;
}

/** A shape (array of positive safe integers), returned as is (read at once, not kept). */
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
 * A tensor with a Float32Array whose length matches its shape, with one of the accepted
 * ranks. Returns its shape.
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
    throw rangeError(arg, `a tensor of rank ${ranks.join(' or ')}`, `rank ${shape.length} (shape ${formatShape(shape)})`);
  }
  checkDataLength(arg, t.data, shape);
  return shape;
}

/** A tensor of exactly this shape, where a string entry matches any size (a named size). */
export function checkTensorShape(arg: string, value: unknown, expected: readonly (number | string)[]): Tensor {
  const shape = checkTensor(arg, value, [expected.length]);
  expectShape(arg, shape, expected);
  return value as Tensor;
}

/** data.length must equal the product of shape; a detached buffer is reported as such. */
export function checkDataLength(arg: string, data: Float32Array | Uint8Array, shape: number[]): void {
  const n = sizeOf(shape, arg);
  if (data.length !== n) {
    if (data.length === 0 && isDetached(data)) throw new TypeError(`${arg}.data: its ArrayBuffer is detached`);
    throw rangeError(`${arg}.data`, `${n} elements for shape ${formatShape(shape)}`, `${data.length}`);
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

const NO_OPTIONS: Readonly<Record<string, unknown>> = Object.freeze({});

/** True for the shared empty result of checkOptionsObject (no options given). */
export function isNoOptions(o: Readonly<Record<string, unknown>>): boolean {
  return o === NO_OPTIONS;
}

/**
 * An options object (undefined/null: none) whose keys are all among `allowed`: a typo
 * such as `causl` is a TypeError naming it and the nearest valid name, never silently
 * ignored.
 */
export function checkOptionsObject(arg: string, options: unknown, allowed: readonly string[]): Readonly<Record<string, unknown>> {
  if (options === undefined || options === null) return NO_OPTIONS;
  if (typeof options !== 'object' || Array.isArray(options) || ArrayBuffer.isView(options)) {
    throw typeError(arg, 'an options object', options);
  }
  for (const key in options) {
    if (!allowed.includes(key)) throw unknownOption(arg, key, allowed);
  }
  return options as Record<string, unknown>;
}

function unknownOption(arg: string, key: string, allowed: readonly string[]): TypeError {
  const near = nearestName(key, allowed);
  const hint = near ? `; did you mean ${JSON.stringify(near)}?` : '';
  return new TypeError(`${arg}: unknown option ${JSON.stringify(key)}${hint} (expected: ${allowed.join(', ')})`);
}

/** The allowed name closest to `key` (edit distance, case-insensitive), if close enough to be a typo. */
export function nearestName(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of allowed) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** True when two views share bytes of one buffer. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** The caller's `out` array (exact length, not overlapping any input), or a new one. */
export function outputArray(
  arg: string,
  out: unknown,
  length: number,
  inputs: () => readonly [string, ArrayBufferView | null][],
): Float32Array {
  if (out === undefined || out === null) return new Float32Array(length);
  if (!(out instanceof Float32Array)) throw typeError(arg, 'a Float32Array', out);
  if (out.length !== length) throw rangeError(arg, `a Float32Array of ${length} elements`, `${out.length}`);
  for (const [name, view] of inputs()) {
    if (view && overlaps(out, view)) throw rangeError(arg, `memory not shared with ${name}`, `an array overlapping ${name}`);
  }
  return out;
}

/**
 * The keys of an options interface as a runtime list, for checkOptionsObject:
 * `optionKeys<ForwardOptions>()({ mask: true, causal: true, ... })`. tsc checks that the
 * object names every key of the interface and no other, so the two cannot drift apart.
 */
export function optionKeys<T>() {
  return <K extends { [P in keyof Required<T>]: true }>(
    keys: K & { [P in Exclude<keyof K, keyof T>]: never },
  ): readonly string[] => Object.keys(keys);
}
