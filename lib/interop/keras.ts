// Keras / TF.js MultiHeadAttention weights (y = x·W + b orientation, like ours):
//   query/kernel [E, H, keyDim]            query/bias [H, keyDim]
//   key/kernel [kdim, H, keyDim]           key/bias [H, keyDim]
//   value/kernel [vdim, H, valueDim]       value/bias [H, valueDim]
//   attention_output/kernel [H, valueDim, outputDim]   attention_output/bias [outputDim]
// (TF.js names the last one attentionOutput.) Flattened row-major, [E, H, keyDim] is our
// [E, H·keyDim] with column h·keyDim + d, and [H, valueDim, outputDim] is our
// [H·valueDim, outputDim]: the data is used as is, only reshaped. numHeads, keyDim and
// valueDim are read from the shapes.
// Only the default attention over the sequence axis (inputs [B, L, features]) and a 1-D
// output_shape are expressible; the scale is Keras's 1/√keyDim.
import { rangeError, typeError } from '../errors';
import type { MultiHeadAttention, Weights } from '../multi-head-attention';
import type { Tensor } from '../tensor';
import {
  buildLayer,
  checkFloat,
  checkLayer,
  checkOptions,
  checkPrefix,
  copyTensor,
  pickOverrides,
  toDict,
  type LayerOverrides,
  type TensorDict,
  type TensorSource,
} from './common';
import { optionKeys } from '../validate';

const OUTPUT_NAMES = ['attention_output', 'attentionOutput'] as const;

export interface FromKerasOptions extends LayerOverrides {
  /**
   * The names' prefix, e.g. "multi_head_attention/" (a trailing "/" is added when
   * missing). Default: found from the one name ending in "query/kernel" ("" when the
   * names have no prefix); when several layers match, the prefix must be given.
   */
  prefix?: string;
}

const FROM = 'fromKeras';

function lookup(dict: TensorDict, name: string): Tensor | undefined {
  return dict.get(name) ?? dict.get(`${name}:0`);
}

/** The prefixes of every name ending with "query/kernel" (or "query/kernel:0"). */
export function findKerasPrefixes(source: TensorSource): string[] {
  return prefixesOf(toDict('findKerasPrefixes', source));
}

function prefixesOf(dict: TensorDict): string[] {
  const out = new Set<string>();
  for (const name of dict.names()) {
    const m = /^(.*?)query\/kernel(?::0)?$/.exec(name);
    if (m && (m[1] === '' || m[1]!.endsWith('/'))) out.add(m[1]!);
  }
  return [...out];
}

/** Builds a MultiHeadAttention from Keras MultiHeadAttention weights (e.g. loadTfjsWeights()). */
export function fromKeras(source: TensorSource, options: FromKerasOptions = {}): MultiHeadAttention {
  const o = checkOptions(FROM, options, false, optionKeys<FromKerasOptions>()({ prefix: true, scale: true }));
  const dict = toDict(FROM, source);
  let prefix: string;
  if (o.prefix === undefined || o.prefix === null) {
    const found = prefixesOf(dict);
    if (found.length !== 1) {
      throw rangeError(
        `${FROM}: prefix`,
        'one name ending in "query/kernel" (or pass prefix)',
        found.length ? `${found.length}: ${found.map((p) => JSON.stringify(p)).join(', ')}` : 'none',
      );
    }
    prefix = found[0]!;
  } else {
    prefix = checkPrefix(FROM, o.prefix);
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  }
  const get = (name: string, shape: (number | string)[]): Tensor => {
    const t = lookup(dict, prefix + name);
    if (t === undefined) throw rangeError(FROM, `a tensor named ${JSON.stringify(prefix + name)}`, 'none');
    return checkFloat(FROM, prefix + name, t, shape);
  };
  const q = get('query/kernel', ['E', 'H', 'keyDim']);
  const [E, H, keyDim] = q.shape as [number, number, number];
  const k = get('key/kernel', ['kdim', H, keyDim]);
  const v = get('value/kernel', ['vdim', H, 'valueDim']);
  const valueDim = v.shape[2]!;
  const outName = OUTPUT_NAMES.find((n) => lookup(dict, `${prefix}${n}/kernel`) !== undefined);
  if (!outName) {
    throw rangeError(
      FROM,
      `a tensor named ${JSON.stringify(`${prefix}attention_output/kernel`)} (or attentionOutput/kernel)`,
      'none',
    );
  }
  const wo = get(`${outName}/kernel`, [H, valueDim, 'outputDim']);
  const outputDim = wo.shape[2]!;
  const biasNames = ['query/bias', 'key/bias', 'value/bias', `${outName}/bias`];
  const present = biasNames.filter((n) => lookup(dict, prefix + n) !== undefined);
  const useBias = present.length > 0;
  if (useBias && present.length !== 4) {
    const missing = biasNames.filter((n) => !present.includes(n));
    throw rangeError(
      FROM,
      'all four biases or none (use_bias)',
      `no ${missing.map((n) => JSON.stringify(prefix + n)).join(', ')}`,
    );
  }
  const weights: Weights = {
    wq: copyTensor(q, [E, H * keyDim]),
    wk: copyTensor(k, [k.shape[0]!, H * keyDim]),
    wv: copyTensor(v, [v.shape[0]!, H * valueDim]),
    wo: copyTensor(wo, [H * valueDim, outputDim]),
  };
  if (useBias) {
    weights.bq = copyTensor(get('query/bias', [H, keyDim]), [H * keyDim]);
    weights.bk = copyTensor(get('key/bias', [H, keyDim]), [H * keyDim]);
    weights.bv = copyTensor(get('value/bias', [H, valueDim]), [H * valueDim]);
    weights.bo = copyTensor(get(`${outName}/bias`, [outputDim]));
  }
  const [kdim, vdim] = [k.shape[0]!, v.shape[0]!];
  const sizes = { embedDim: E, numHeads: H, keyDim, valueDim, kdim, vdim, outputDim, useBias };
  return buildLayer({ ...sizes, ...pickOverrides(FROM, o) }, weights);
}

export interface ToKerasOptions {
  /** Prepended to every name (default "multi_head_attention/"; a trailing "/" is added when missing). */
  prefix?: string;
  /** The output projection's name: Keras's "attention_output" (default) or TF.js's "attentionOutput". */
  outputName?: 'attention_output' | 'attentionOutput';
}

const TO = 'toKeras';

/** The layer's weights under Keras MultiHeadAttention names and shapes. */
export function toKeras(layer: MultiHeadAttention, options: ToKerasOptions = {}): Record<string, Tensor> {
  const l = checkLayer(TO, layer);
  const o = checkOptions(TO, options, false, optionKeys<ToKerasOptions>()({ prefix: true, outputName: true }));
  let prefix = o.prefix === undefined ? 'multi_head_attention/' : checkPrefix(TO, o.prefix);
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  const outName = o.outputName ?? 'attention_output';
  if (typeof outName !== 'string') throw typeError(`${TO}: outputName`, '"attention_output" or "attentionOutput"', outName);
  if (!(OUTPUT_NAMES as readonly string[]).includes(outName)) {
    throw rangeError(`${TO}: outputName`, '"attention_output" or "attentionOutput"', JSON.stringify(outName));
  }
  const w = l.getWeights() as Required<Weights>;
  const { numHeads: H, keyDim, valueDim } = l;
  const bias = (t: Tensor, shape: number[]) => (l.useBias ? [{ data: t.data, shape }] : []);
  const entries: [string, Tensor[]][] = [
    ['query/kernel', [{ data: w.wq.data, shape: [l.embedDim, H, keyDim] }]],
    ['query/bias', bias(w.bq, [H, keyDim])],
    ['key/kernel', [{ data: w.wk.data, shape: [l.kdim, H, keyDim] }]],
    ['key/bias', bias(w.bk, [H, keyDim])],
    ['value/kernel', [{ data: w.wv.data, shape: [l.vdim, H, valueDim] }]],
    ['value/bias', bias(w.bv, [H, valueDim])],
    [`${outName}/kernel`, [{ data: w.wo.data, shape: [H, valueDim, l.outputDim] }]],
    [`${outName}/bias`, bias(w.bo, [l.outputDim])],
  ];
  // Keras's order: each sublayer's kernel then bias.
  const out: Record<string, Tensor> = {};
  for (const [name, [t]] of entries) if (t) out[prefix + name] = t;
  return out;
}

/**
 * Keras / TF.js attention_mask [B, T, S] (1 = may attend, as ours; a float mask is read
 * as boolean, nonzero = attend, as Keras does for 0/1 values) → our mask [B, 1, T, S].
 * A [T, S] mask is returned as is (it broadcasts).
 */
export function fromKerasAttentionMask(mask: Tensor<Uint8Array> | Tensor): Tensor<Uint8Array> {
  const arg = 'fromKerasAttentionMask: mask';
  if (typeof mask !== 'object' || mask === null || ArrayBuffer.isView(mask))
    throw typeError(arg, 'a tensor { data: Uint8Array | Float32Array, shape }', mask);
  const { data, shape } = mask as { data: unknown; shape: unknown };
  if (!(data instanceof Uint8Array) && !(data instanceof Float32Array))
    throw typeError(`${arg}.data`, 'a Uint8Array or a Float32Array', data);
  if (!Array.isArray(shape) || (shape.length !== 2 && shape.length !== 3)) {
    throw rangeError(arg, 'shape [B, T, S] or [T, S]', Array.isArray(shape) ? `[${shape.join(', ')}]` : String(shape));
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== count)
    throw rangeError(`${arg}.data`, `${count} elements for shape [${shape.join(', ')}]`, `${data.length}`);
  const bytes = data instanceof Uint8Array ? data : Uint8Array.from(data, (v) => (v !== 0 ? 1 : 0));
  return { data: bytes, shape: shape.length === 3 ? [shape[0], 1, shape[1], shape[2]] : [...shape] };
}
