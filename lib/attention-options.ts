// Options shared by MultiHeadAttention and scaledDotProductAttention: the mask (with
// its broadcast strides), causal and key lengths, turned into the binding's arguments.
import { describe, formatShape, rangeError, typeError } from './errors';
import { broadcastStrides } from './layout';
import { checkDataLength, checkShape, type MaskTensor } from './tensor';

export interface AttentionOptions {
  /**
   * Broadcastable to [B, H, Lq, Lk] (axes may be 1 or missing on the left).
   * Uint8Array: 1 = may attend, 0 = masked. Float32Array: added to the scaled scores
   * (use -Infinity to mask).
   */
  mask?: MaskTensor | null;
  /** Query i attends to keys j <= i + (Lk - Lq): bottom-right aligned (ONNX, decoding). */
  causal?: boolean;
  /** [B]: only the first keyLengths[b] keys of batch row b are real. */
  keyLengths?: Int32Array | readonly number[] | null;
}

/** The binding's view of the options. */
export interface ResolvedOptions {
  mask: Uint8Array | Float32Array | null;
  sb: number;
  sh: number;
  sq: number;
  sk: number;
  causal: boolean;
  keyLengths: Int32Array | null;
}

const NO_OPTIONS: AttentionOptions = {};

export function checkOptionsObject(arg: string, options: unknown): Record<string, unknown> {
  if (options === undefined || options === null) return NO_OPTIONS as Record<string, unknown>;
  if (typeof options !== 'object' || Array.isArray(options) || ArrayBuffer.isView(options)) {
    throw typeError(arg, 'an options object', options);
  }
  return options as Record<string, unknown>;
}

const NOTHING_RESOLVED: Readonly<ResolvedOptions> = Object.freeze({
  mask: null, sb: 0, sh: 0, sq: 0, sk: 0, causal: false, keyLengths: null,
});

export function resolveAttentionOptions(
  o: Record<string, unknown>,
  B: number,
  H: number,
  Lq: number,
  Lk: number,
): Readonly<ResolvedOptions> {
  if (o === NO_OPTIONS) return NOTHING_RESOLVED;
  const r: ResolvedOptions = { mask: null, sb: 0, sh: 0, sq: 0, sk: 0, causal: false, keyLengths: null };
  if (o.causal !== undefined) {
    if (typeof o.causal !== 'boolean') throw typeError('causal', 'a boolean', o.causal);
    r.causal = o.causal;
  }
  if (o.mask !== undefined && o.mask !== null) resolveMask(r, o.mask, [B, H, Lq, Lk]);
  if (o.keyLengths !== undefined && o.keyLengths !== null) r.keyLengths = resolveKeyLengths(o.keyLengths, B, Lk);
  return r;
}

function resolveMask(r: ResolvedOptions, mask: unknown, target: number[]): void {
  if (typeof mask !== 'object' || mask === null || ArrayBuffer.isView(mask) || Array.isArray(mask)) {
    throw typeError('mask', 'a tensor { data: Uint8Array | Float32Array, shape: number[] }', mask);
  }
  const m = mask as { data?: unknown; shape?: unknown };
  if ((!(m.data instanceof Uint8Array) && !(m.data instanceof Float32Array)) || !ArrayBuffer.isView(m.data)) {
    throw typeError('mask.data', 'a Uint8Array (1 = attend, 0 = masked) or a Float32Array (added to scores)', m.data);
  }
  const shape = checkShape('mask', m.shape);
  checkDataLength('mask', m.data, shape);
  const strides = broadcastStrides(shape, target);
  if (!strides) {
    throw rangeError('mask', `a shape broadcastable to [B, H, Lq, Lk] = ${formatShape(target)}`, formatShape(shape));
  }
  r.mask = m.data;
  [r.sb, r.sh, r.sq, r.sk] = strides as [number, number, number, number];
}

function resolveKeyLengths(value: unknown, B: number, Lk: number): Int32Array {
  let lengths: Int32Array;
  if (value instanceof Int32Array) lengths = value;
  else if (Array.isArray(value)) {
    lengths = new Int32Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (typeof v !== 'number') throw typeError(`keyLengths[${i}]`, 'an integer', v);
      if (!Number.isInteger(v) || v < 0 || v > Lk) throw rangeError(`keyLengths[${i}]`, `an integer in [0, ${Lk}]`, describe(v));
      lengths[i] = v;
    }
  } else throw typeError('keyLengths', 'an Int32Array or an array of integers', value);
  if (lengths.length !== B) throw rangeError('keyLengths', `${B} entries (one per batch row)`, `${lengths.length}`);
  for (let i = 0; i < lengths.length; i++) {
    const v = lengths[i]!;
    if (v < 0 || v > Lk) throw rangeError(`keyLengths[${i}]`, `an integer in [0, ${Lk}]`, `${v}`);
  }
  return lengths;
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
