// Helpers shared by the importers and exporters: looking tensors up by name (with
// messages that say what was expected and what is there), transposes, and building a
// MultiHeadAttention from weights in our layout.
import { rangeError, typeError } from '../errors';
import { MultiHeadAttention, type MultiHeadAttentionOptions, type Weights } from '../multi-head-attention';
import type { Tensor } from '../tensor';
import { checkFloat32, checkOptionsObject, checkTensorShape } from '../validate';
import { loadSafetensors, type SafetensorsContents } from './safetensors';

/**
 * Named tensors: a plain object or a Map of { data: Float32Array, shape } (a state dict),
 * the result of loadSafetensors, or a safetensors file path (loaded with
 * skipUnsupported: tensors of integer dtypes are left out).
 */
export type TensorSource = Record<string, Tensor> | Map<string, Tensor> | SafetensorsContents | string;

/** Read-only name → tensor lookup. */
export interface TensorDict {
  get(name: string): Tensor | undefined;
  names(): string[];
}

function isTensorLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null && 'data' in v && 'shape' in v;
}

export function toDict(who: string, source: unknown): TensorDict {
  // A checkpoint may hold tensors of dtypes we cannot load (e.g. I64 step counters): skip them.
  if (typeof source === 'string') return toDict(who, loadSafetensors(source, { skipUnsupported: true }));
  if (source instanceof Map) {
    return { get: (n) => source.get(n) as Tensor | undefined, names: () => [...source.keys()] as string[] };
  }
  if (typeof source !== 'object' || source === null || Array.isArray(source) || ArrayBuffer.isView(source)) {
    throw typeError(
      `${who}: weights`,
      'an object or Map of tensors keyed by name, loadSafetensors() contents or a file path',
      source,
    );
  }
  const s = source as Record<string, unknown>;
  const record = (
    typeof s.tensors === 'object' && s.tensors !== null && !isTensorLike(s.tensors) && 'metadata' in s ? s.tensors : s
  ) as Record<string, Tensor>;
  return {
    get: (n) => (Object.hasOwn(record, n) ? record[n] : undefined),
    names: () => Object.keys(record),
  };
}

/** Joins a prefix and a name with `sep` unless the prefix is empty or already ends with it. */
export function joinName(prefix: string, name: string, sep: string): string {
  if (prefix === '' || prefix.endsWith(sep)) return prefix + name;
  return `${prefix}${sep}${name}`;
}

export function checkPrefix(who: string, prefix: unknown): string {
  if (prefix === undefined || prefix === null) return '';
  if (typeof prefix !== 'string') throw typeError(`${who}: prefix`, 'a string', prefix);
  return prefix;
}

/** Up to `max` names containing `fragment`, for "did you mean" hints. */
export function similarNames(dict: TensorDict, fragment: string, max = 6): string[] {
  const hits = dict.names().filter((n) => n.includes(fragment));
  return hits.length > max ? [...hits.slice(0, max), '…'] : hits;
}

/** The tensor called `name`, checked to be float32 with the expected shape (strings match any size). */
export function take(who: string, dict: TensorDict, name: string, shape: readonly (number | string)[], hint?: string): Tensor {
  const t = dict.get(name);
  if (t === undefined) {
    throw rangeError(`${who}`, `a tensor named ${JSON.stringify(name)}`, `none${hint ? ` (${hint})` : ''}`);
  }
  return checkFloat(who, name, t, shape);
}

export function checkFloat(who: string, name: string, t: unknown, shape: readonly (number | string)[]): Tensor {
  return checkTensorShape(`${who}: ${name}`, t, shape);
}

/** [rows, cols] → [cols, rows]. */
export function transpose(data: Float32Array, rows: number, cols: number, rowOffset = 0, rowCount = rows): Float32Array {
  const out = new Float32Array(rowCount * cols);
  for (let r = 0; r < rowCount; r++) {
    const src = (rowOffset + r) * cols;
    for (let c = 0; c < cols; c++) out[c * rowCount + r] = data[src + c]!;
  }
  return out;
}

/** A PyTorch / Hugging Face linear weight [out, in] (rows [rowOffset, rowOffset+rowCount) of it) → ours [in, out]. */
export function fromLinear(t: Tensor, rowOffset = 0, rowCount = t.shape[0]!): Tensor {
  const [rows, cols] = t.shape as [number, number];
  return { data: transpose(t.data, rows, cols, rowOffset, rowCount), shape: [cols, rowCount] };
}

/** Ours [in, out] → a PyTorch linear weight [out, in]. */
export function toLinear(t: Tensor): Tensor {
  const [rows, cols] = t.shape as [number, number];
  return { data: transpose(t.data, rows, cols), shape: [cols, rows] };
}

export function sliceVector(t: Tensor, start: number, length: number): Tensor {
  return { data: t.data.slice(start, start + length), shape: [length] };
}

export function copyTensor(t: Tensor, shape: number[] = t.shape): Tensor {
  return { data: t.data.slice(), shape: [...shape] };
}

/** Options every importer passes through to the layer it builds. */
export interface LayerOverrides {
  /** Softmax scale (default 1/√keyDim, what all these frameworks use). */
  scale?: number;
}

export function buildLayer(options: MultiHeadAttentionOptions, weights: Weights): MultiHeadAttention {
  // A fixed seed: the random initial weights are all replaced.
  const layer = new MultiHeadAttention({ seed: 0, ...options });
  layer.setWeights(weights);
  return layer;
}

export function checkLayer(who: string, layer: unknown): MultiHeadAttention {
  if (!(layer instanceof MultiHeadAttention)) throw typeError(`${who}: layer`, 'a MultiHeadAttention', layer);
  return layer;
}

export function pickOverrides(who: string, options: Readonly<Record<string, unknown>>): { scale?: number } {
  if (options.scale === undefined) return {};
  return { scale: checkFloat32(`${who}: scale`, options.scale) };
}

/** An importer's options object; its keys must be among `allowed` (see optionKeys). */
export function checkOptions(
  who: string,
  options: unknown,
  required: boolean,
  allowed: readonly string[],
): Readonly<Record<string, unknown>> {
  if (required && (options === undefined || options === null)) throw typeError(`${who}: options`, 'an options object', options);
  return checkOptionsObject(`${who}: options`, options, allowed);
}

export function checkHeads(who: string, value: unknown): number {
  if (value === undefined)
    throw typeError(`${who}: numHeads`, 'a positive integer (it cannot be inferred from the weights)', value);
  if (typeof value !== 'number') throw typeError(`${who}: numHeads`, 'a positive integer', value);
  if (!Number.isSafeInteger(value) || value < 1) throw rangeError(`${who}: numHeads`, 'a positive integer', `${value}`);
  return value;
}
