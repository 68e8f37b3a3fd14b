// Hugging Face attention blocks made of separate linears (weights [out, in], optional
// biases), selected by a name prefix:
//   BERT-style  (prefix "bert.encoder.layer.0.attention."):
//     self.query, self.key, self.value, output.dense
//   BART / OPT / Whisper / LLaMA-style (prefix "model.layers.0.self_attn."):
//     q_proj, k_proj, v_proj, and out_proj (BART, OPT, Whisper…) or o_proj (LLaMA, Mistral…)
// Grouped-query attention (k_proj / v_proj with fewer key/value heads, LLaMA-style) is
// kept as it is (numKvHeads): nothing is expanded.
//
// The weights carry no position scheme: a decoder's rotary embedding and sliding window
// come from its config (rope_theta, partial_rotary_factor or rotary_dim, rope_scaling,
// sliding_window) through the `rotary` and `slidingWindow` options. What a model does
// around the attention (BERT's residual + LayerNorm after output.dense, T5's unscaled
// scores) is not part of MultiHeadAttention.
import { rangeError, typeError } from '../errors';
import type { MultiHeadAttention, RotaryOptions, Weights } from '../multi-head-attention';
import type { Tensor } from '../tensor';
import {
  buildLayer,
  checkFloat,
  checkHeads,
  checkLayer,
  checkOptions,
  checkPrefix,
  fromLinear,
  joinName,
  pickOverrides,
  similarNames,
  toDict,
  toLinear,
  type LayerOverrides,
  type TensorSource,
} from './common';
import { optionKeys } from '../validate';

export type HuggingFaceStyle = 'bert' | 'bart' | 'llama';

/** The four linears' names (without ".weight" / ".bias") of each style. */
export const HF_LINEAR_NAMES: Record<HuggingFaceStyle, { q: string; k: string; v: string; o: string }> = {
  bert: { q: 'self.query', k: 'self.key', v: 'self.value', o: 'output.dense' },
  bart: { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'out_proj' },
  llama: { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj' },
};

export interface FromHuggingFaceOptions extends LayerOverrides {
  /** The model config's num_attention_heads: it cannot be inferred from the weights. */
  numHeads: number;
  /**
   * The names' prefix: up to "attention." for BERT-style blocks, up to "self_attn." (or
   * the block's name) for q_proj-style ones. A trailing "." is added when missing.
   */
  prefix?: string;
  /** Check against the config's num_key_value_heads (otherwise inferred from k_proj's shape). */
  numKeyValueHeads?: number;
  /**
   * The model's rotary embedding (decoders): base = rope_theta; dim = head_dim ×
   * partial_rotary_factor (GPT-NeoX, Phi) or rotary_dim (GPT-J); interleaved for GPT-J-style
   * checkpoints; scaling from rope_scaling.
   */
  rotary?: RotaryOptions | null;
  /** The config's sliding_window (Mistral). */
  slidingWindow?: number | null;
}

const FROM = 'fromHuggingFace';

/** Builds a MultiHeadAttention from a Hugging Face attention block's linears. */
export function fromHuggingFace(source: TensorSource, options: FromHuggingFaceOptions): MultiHeadAttention {
  const o = checkOptions(
    FROM,
    options,
    true,
    optionKeys<FromHuggingFaceOptions>()({
      numHeads: true,
      prefix: true,
      numKeyValueHeads: true,
      scale: true,
      rotary: true,
      slidingWindow: true,
    }),
  );
  const H = checkHeads(FROM, o.numHeads);
  const prefix = checkPrefix(FROM, o.prefix);
  const dict = toDict(FROM, source);
  const n = (name: string) => joinName(prefix, name, '.');

  let names: { q: string; k: string; v: string; o: string };
  if (dict.get(n('self.query.weight'))) names = HF_LINEAR_NAMES.bert;
  else if (dict.get(n('q_proj.weight'))) {
    const hasOut = dict.get(n('out_proj.weight')) !== undefined;
    if (!hasOut && dict.get(n('o_proj.weight')) === undefined) {
      throw rangeError(
        FROM,
        `a tensor named ${JSON.stringify(n('o_proj.weight'))} or ${JSON.stringify(n('out_proj.weight'))}`,
        'neither',
      );
    }
    names = hasOut ? HF_LINEAR_NAMES.bart : HF_LINEAR_NAMES.llama;
  } else {
    const hits = [...similarNames(dict, 'query.weight', 3), ...similarNames(dict, 'q_proj.weight', 3)];
    const hint = prefix.endsWith('self.') ? '; a BERT-style prefix ends at "attention.", before "self."' : '';
    throw rangeError(
      FROM,
      `a tensor named ${JSON.stringify(n('self.query.weight'))} (BERT-style) or ${JSON.stringify(n('q_proj.weight'))}`,
      `neither${hits.length ? `; similar names: ${hits.join(', ')}` : ''}${hint}`,
    );
  }

  const q = checkFloat(FROM, n(`${names.q}.weight`), dict.get(n(`${names.q}.weight`)), ['H·keyDim', 'E']);
  const E = q.shape[1]!;
  const qOut = q.shape[0]!;
  if (qOut % H !== 0) throw rangeError(`${FROM}: numHeads`, `a divisor of ${names.q}'s output size (${qOut})`, `${H}`);
  const keyDim = qOut / H;
  const k = mustGet(dict, n(`${names.k}.weight`), ['Hkv·keyDim', 'kdim']);
  const kOut = k.shape[0]!;
  if (kOut % keyDim !== 0 || H % (kOut / keyDim) !== 0) {
    throw rangeError(
      `${FROM}: ${n(`${names.k}.weight`)}`,
      `an output size that is numKeyValueHeads × ${keyDim}, with numKeyValueHeads dividing numHeads (${H})`,
      `${kOut}`,
    );
  }
  const Hkv = kOut / keyDim;
  if (o.numKeyValueHeads !== undefined && o.numKeyValueHeads !== Hkv) {
    throw rangeError(
      `${FROM}: numKeyValueHeads`,
      `${Hkv} (from ${names.k}'s shape [${k.shape.join(', ')}])`,
      `${String(o.numKeyValueHeads)}`,
    );
  }
  const v = mustGet(dict, n(`${names.v}.weight`), ['Hkv·valueDim', 'vdim']);
  if (v.shape[0]! % Hkv !== 0)
    throw rangeError(`${FROM}: ${n(`${names.v}.weight`)}`, `an output size that is a multiple of ${Hkv} heads`, `${v.shape[0]}`);
  const valueDim = v.shape[0]! / Hkv;
  const out = mustGet(dict, n(`${names.o}.weight`), ['outputDim', H * valueDim]);
  const outputDim = out.shape[0]!;

  const bias = (name: string, size: number): Tensor | undefined => {
    const t = dict.get(n(`${name}.bias`));
    return t === undefined ? undefined : checkFloat(FROM, n(`${name}.bias`), t, [size]);
  };
  const biases = [bias(names.q, qOut), bias(names.k, kOut), bias(names.v, v.shape[0]!), bias(names.o, outputDim)];
  const useBias = biases.some((b) => b !== undefined);
  const zeros = (size: number): Tensor => ({ data: new Float32Array(size), shape: [size] });

  // Grouped-query layers keep their Hkv key/value heads (numKvHeads): nothing is expanded.
  const weights: Weights = { wq: fromLinear(q), wk: fromLinear(k), wv: fromLinear(v), wo: fromLinear(out) };
  if (useBias) {
    const copy = (b: Tensor | undefined, size: number): Tensor => (b ? { data: b.data.slice(), shape: [size] } : zeros(size));
    weights.bq = copy(biases[0], qOut);
    weights.bk = copy(biases[1], kOut);
    weights.bv = copy(biases[2], v.shape[0]!);
    weights.bo = copy(biases[3], outputDim);
  }
  const [kdim, vdim] = [k.shape[1]!, v.shape[1]!];
  const sizes = { embedDim: E, numHeads: H, numKvHeads: Hkv, keyDim, valueDim, kdim, vdim, outputDim, useBias };
  const decoder = {
    ...(o.rotary === undefined ? {} : { rotary: o.rotary as RotaryOptions | null }),
    ...(o.slidingWindow === undefined ? {} : { slidingWindow: o.slidingWindow as number | null }),
  };
  return buildLayer({ ...sizes, ...decoder, ...pickOverrides(FROM, o) }, weights);

  function mustGet(d: typeof dict, name: string, shape: (number | string)[]): Tensor {
    const t = d.get(name);
    if (t === undefined) throw rangeError(FROM, `a tensor named ${JSON.stringify(name)}`, 'none');
    return checkFloat(FROM, name, t, shape);
  }
}

export interface ToHuggingFaceOptions {
  /** Which names to use (see HF_LINEAR_NAMES). */
  style: HuggingFaceStyle;
  /** Prepended to every name (a trailing "." is added when missing). */
  prefix?: string;
}

const TO = 'toHuggingFace';

/** The layer's weights as a Hugging Face block's linears ([out, in] weights, biases when useBias). */
export function toHuggingFace(layer: MultiHeadAttention, options: ToHuggingFaceOptions): Record<string, Tensor> {
  const l = checkLayer(TO, layer);
  const o = checkOptions(TO, options, true, optionKeys<ToHuggingFaceOptions>()({ style: true, prefix: true }));
  if (o.style === undefined || typeof o.style !== 'string') throw typeError(`${TO}: style`, '"bert", "bart" or "llama"', o.style);
  const names = HF_LINEAR_NAMES[o.style as HuggingFaceStyle];
  if (!names || !Object.hasOwn(HF_LINEAR_NAMES, o.style)) {
    throw rangeError(`${TO}: style`, '"bert", "bart" or "llama"', JSON.stringify(o.style));
  }
  const prefix = checkPrefix(TO, o.prefix);
  const n = (name: string) => joinName(prefix, name, '.');
  const w = l.getWeights() as Required<Weights>;
  const out: Record<string, Tensor> = {};
  const pairs: [string, Tensor, Tensor | undefined][] = [
    [names.q, w.wq, w.bq],
    [names.k, w.wk, w.bk],
    [names.v, w.wv, w.bv],
    [names.o, w.wo, w.bo],
  ];
  for (const [name, weight, b] of pairs) {
    out[n(`${name}.weight`)] = toLinear(weight);
    if (l.useBias && b) out[n(`${name}.bias`)] = b;
  }
  return out;
}
