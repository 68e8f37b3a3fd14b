// Options shared by MultiHeadAttention and scaledDotProductAttention: the mask (with
// its broadcast strides), causal and key lengths, turned into the binding's arguments.
import type { AttentionArgs } from '../binding';
import { describe, formatShape, rangeError, typeError } from './errors';
import { broadcastStrides } from './layout';
import type { MaskTensor } from './tensor';
import { checkBoolean, checkDataLength, checkShape, isNoOptions } from './validate';

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
export type ResolvedOptions = Pick<AttentionArgs, 'mask' | 'maskStrides' | 'causal' | 'keyLengths'>;

const NOTHING_RESOLVED: Readonly<ResolvedOptions> = Object.freeze({
  mask: null,
  maskStrides: Object.freeze([0, 0, 0, 0] as const),
  causal: false,
  keyLengths: null,
});

export function resolveAttentionOptions(
  o: Readonly<Record<string, unknown>>,
  B: number,
  H: number,
  Lq: number,
  Lk: number,
): Readonly<ResolvedOptions> {
  if (isNoOptions(o)) return NOTHING_RESOLVED;
  const mask = o.mask === undefined || o.mask === null ? null : resolveMask(o.mask, [B, H, Lq, Lk]);
  return {
    mask: mask ? mask.data : null,
    maskStrides: mask ? mask.strides : NOTHING_RESOLVED.maskStrides,
    causal: checkBoolean('causal', o.causal, false),
    keyLengths: o.keyLengths === undefined || o.keyLengths === null ? null : resolveKeyLengths(o.keyLengths, B, Lk),
  };
}

function resolveMask(mask: unknown, target: number[]) {
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
  return { data: m.data, strides: strides as [number, number, number, number] };
}

/**
 * An Int32Array of integers in [lo, hi], given as one or as an array of numbers; entries
 * are checked one by one, so the message names the first bad one (with its value as given).
 */
export function integerArray(arg: string, value: unknown, lo: number, hi: number): Int32Array {
  const expected = `an integer in [${lo}, ${hi}]`;
  if (value instanceof Int32Array) {
    for (let i = 0; i < value.length; i++) {
      if (value[i]! < lo || value[i]! > hi) throw rangeError(`${arg}[${i}]`, expected, `${value[i]}`);
    }
    return value;
  }
  if (!Array.isArray(value)) throw typeError(arg, 'an Int32Array or an array of integers', value);
  const out = new Int32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v !== 'number') throw typeError(`${arg}[${i}]`, 'an integer', v);
    if (!Number.isInteger(v) || v < lo || v > hi) throw rangeError(`${arg}[${i}]`, expected, describe(v));
    out[i] = v;
  }
  return out;
}

function resolveKeyLengths(value: unknown, B: number, Lk: number): Int32Array {
  const lengths = integerArray('keyLengths', value, 0, Lk);
  if (lengths.length !== B) throw rangeError('keyLengths', `${B} entries (one per batch row)`, `${lengths.length}`);
  return lengths;
}

/**
 * Packed sequence lengths for an unbatched query of Lq rows (`batchedShape` is the query's
 * shape when it was batched, an error): positive integers summing to Lq, keys packed the
 * same way (Lk = Lq), and no keyLengths (each sequence is exactly its own length).
 */
export function resolveSequenceLengths(
  value: unknown,
  batchedShape: readonly number[] | null,
  Lq: number,
  Lk: number,
  withKeyLengths: boolean,
): Int32Array {
  if (batchedShape) {
    throw rangeError(
      'sequenceLengths',
      'an unbatched query [T, E] holding the packed sequences',
      `a query of shape ${formatShape(batchedShape)}`,
    );
  }
  if (Lk !== Lq) throw rangeError('sequenceLengths', `keys packed like the query (${Lq} rows)`, `${Lk} key rows`);
  if (withKeyLengths)
    throw rangeError('keyLengths', 'no keyLengths with sequenceLengths (each sequence is its own length)', 'both');
  const lengths = integerArray('sequenceLengths', value, 1, Lq);
  if (lengths.length === 0) throw rangeError('sequenceLengths', 'at least one sequence', 'none');
  let total = 0;
  for (const n of lengths) total += n;
  if (total !== Lq) throw rangeError('sequenceLengths', `lengths summing to the query's ${Lq} rows`, `a sum of ${total}`);
  return lengths;
}
