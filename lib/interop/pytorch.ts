// PyTorch nn.MultiheadAttention: state dicts in and out, and its mask conventions.
//
// State dict (weights [out, in], y = x·Wᵀ + b; names after an optional prefix such as
// "encoder.layers.0.self_attn."):
//   in_proj_weight [3E, E], in_proj_bias [3E]         (kdim = vdim = E)
//   q_proj_weight [E, E], k_proj_weight [E, kdim], v_proj_weight [E, vdim]   (otherwise)
//   out_proj.weight [E, E], out_proj.bias [E]
// The q/k/v rows are head-major (row h·E/H + d is head h), as our columns are.
// Masks: PyTorch's boolean attn_mask and key_padding_mask use true = masked (ours:
// 1 = may attend); float masks are added to the scores in both.
import { formatShape, rangeError, typeError } from '../errors';
import type { AttentionOptions } from '../attention-options';
import type { MultiHeadAttention, Weights } from '../multi-head-attention';
import type { MaskTensor, Tensor } from '../tensor';
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
  sliceVector,
  take,
  toDict,
  toLinear,
  type LayerOverrides,
  type TensorSource,
} from './common';
import { optionKeys } from '../validate';

export interface FromPyTorchOptions extends LayerOverrides {
  /** H: it cannot be inferred from the weights. */
  numHeads: number;
  /** Names' prefix, e.g. "encoder.layers.0.self_attn." (a trailing "." is added when missing). */
  prefix?: string;
}

const FROM = 'fromPyTorch';

/** Builds a MultiHeadAttention from an nn.MultiheadAttention state dict. */
export function fromPyTorch(source: TensorSource, options: FromPyTorchOptions): MultiHeadAttention {
  const o = checkOptions(FROM, options, true, optionKeys<FromPyTorchOptions>()({ numHeads: true, prefix: true, scale: true }));
  const numHeads = checkHeads(FROM, o.numHeads);
  const prefix = checkPrefix(FROM, o.prefix);
  const dict = toDict(FROM, source);
  const n = (name: string) => joinName(prefix, name, '.');

  for (const extra of ['bias_k', 'bias_v']) {
    if (dict.get(n(extra))) {
      throw rangeError(
        FROM,
        'an nn.MultiheadAttention without add_bias_kv',
        `a tensor named ${JSON.stringify(n(extra))} (add_bias_kv=True is not supported)`,
      );
    }
  }
  const outName = n('out_proj.weight');
  if (!dict.get(outName)) {
    const hits = similarNames(dict, 'out_proj.weight');
    throw rangeError(
      FROM,
      `a tensor named ${JSON.stringify(outName)}`,
      hits.length ? `none; similar names: ${hits.join(', ')} (check prefix)` : 'none',
    );
  }
  const outW = checkFloat(FROM, outName, dict.get(outName), ['E', 'E']);
  const E = outW.shape[0]!;
  if (outW.shape[1] !== E) throw rangeError(`${FROM}: ${outName}`, `a square shape [E, E]`, formatShape(outW.shape));
  if (E % numHeads !== 0) throw rangeError(`${FROM}: numHeads`, `a divisor of embed_dim (${E})`, `${numHeads}`);

  let wq: Tensor, wk: Tensor, wv: Tensor;
  let kdim = E;
  let vdim = E;
  if (dict.get(n('in_proj_weight'))) {
    const w = take(FROM, dict, n('in_proj_weight'), [3 * E, E]);
    wq = fromLinear(w, 0, E);
    wk = fromLinear(w, E, E);
    wv = fromLinear(w, 2 * E, E);
  } else {
    const hint = `nn.MultiheadAttention stores in_proj_weight, or q_proj_weight, k_proj_weight and v_proj_weight`;
    const q = take(FROM, dict, n('q_proj_weight'), [E, E], hint);
    const k = take(FROM, dict, n('k_proj_weight'), [E, 'kdim'], hint);
    const v = take(FROM, dict, n('v_proj_weight'), [E, 'vdim'], hint);
    kdim = k.shape[1]!;
    vdim = v.shape[1]!;
    wq = fromLinear(q);
    wk = fromLinear(k);
    wv = fromLinear(v);
  }
  const weights: Weights = { wq, wk, wv, wo: fromLinear(outW) };
  const inBias = dict.get(n('in_proj_bias'));
  const outBias = dict.get(n('out_proj.bias'));
  const useBias = inBias !== undefined || outBias !== undefined;
  if (useBias) {
    // A missing one of the two is a zero bias.
    const b = inBias ? checkFloat(FROM, n('in_proj_bias'), inBias, [3 * E]) : { data: new Float32Array(3 * E), shape: [3 * E] };
    weights.bq = sliceVector(b, 0, E);
    weights.bk = sliceVector(b, E, E);
    weights.bv = sliceVector(b, 2 * E, E);
    weights.bo = outBias
      ? { data: checkFloat(FROM, n('out_proj.bias'), outBias, [E]).data.slice(), shape: [E] }
      : { data: new Float32Array(E), shape: [E] };
  }
  return buildLayer({ embedDim: E, numHeads, kdim, vdim, useBias, ...pickOverrides(FROM, o) }, weights);
}

export interface ToPyTorchOptions {
  /** Prepended to every name (a trailing "." is added when missing). */
  prefix?: string;
}

const TO = 'toPyTorch';

/**
 * The layer's weights as an nn.MultiheadAttention state dict (in_proj_weight when
 * kdim = vdim = embedDim, else q/k/v_proj_weight, as PyTorch itself stores them).
 * The layer must be one nn.MultiheadAttention can express: keyDim = valueDim =
 * embedDim / numHeads and outputDim = embedDim.
 */
export function toPyTorch(layer: MultiHeadAttention, options: ToPyTorchOptions = {}): Record<string, Tensor> {
  const l = checkLayer(TO, layer);
  const o = checkOptions(TO, options, false, optionKeys<ToPyTorchOptions>()({ prefix: true }));
  const prefix = checkPrefix(TO, o.prefix);
  const E = l.embedDim;
  const headDim = E / l.numHeads;
  if (l.keyDim !== headDim || l.valueDim !== headDim || l.outputDim !== E) {
    throw rangeError(
      `${TO}: layer`,
      'keyDim = valueDim = embedDim / numHeads and outputDim = embedDim (what nn.MultiheadAttention can express)',
      `embedDim ${E}, numHeads ${l.numHeads}, keyDim ${l.keyDim}, valueDim ${l.valueDim}, outputDim ${l.outputDim}`,
    );
  }
  const w = l.getWeights() as Required<Weights>;
  const n = (name: string) => joinName(prefix, name, '.');
  const out: Record<string, Tensor> = {};
  if (l.kdim === E && l.vdim === E) {
    const data = new Float32Array(3 * E * E);
    data.set(toLinear(w.wq).data, 0);
    data.set(toLinear(w.wk).data, E * E);
    data.set(toLinear(w.wv).data, 2 * E * E);
    out[n('in_proj_weight')] = { data, shape: [3 * E, E] };
  } else {
    out[n('q_proj_weight')] = toLinear(w.wq);
    out[n('k_proj_weight')] = toLinear(w.wk);
    out[n('v_proj_weight')] = toLinear(w.wv);
  }
  if (l.useBias) {
    const data = new Float32Array(3 * E);
    data.set(w.bq.data, 0);
    data.set(w.bk.data, E);
    data.set(w.bv.data, 2 * E);
    out[n('in_proj_bias')] = { data, shape: [3 * E] };
  }
  out[n('out_proj.weight')] = toLinear(w.wo);
  if (l.useBias) out[n('out_proj.bias')] = { data: w.bo.data, shape: [E] };
  return out;
}

// ---------------------------------------------------------------------------------------
// Masks

/** A PyTorch mask: boolean (Uint8Array, nonzero = true = masked) or float (Float32Array, added to scores). */
export type TorchMask = Tensor<Uint8Array> | Tensor<Float32Array>;

function checkMask(arg: string, mask: unknown, ranks: number[]): { data: Uint8Array | Float32Array; shape: number[] } {
  if (typeof mask !== 'object' || mask === null || ArrayBuffer.isView(mask) || Array.isArray(mask)) {
    throw typeError(arg, 'a tensor { data: Uint8Array (bool, true = masked) | Float32Array (added), shape }', mask);
  }
  const { data, shape } = mask as { data: unknown; shape: unknown };
  if (!(data instanceof Uint8Array) && !(data instanceof Float32Array)) {
    throw typeError(`${arg}.data`, 'a Uint8Array (bool: nonzero = masked) or a Float32Array (added to the scores)', data);
  }
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw typeError(`${arg}.shape`, 'an array of positive integers', shape);
  }
  if (!ranks.includes(shape.length))
    throw rangeError(arg, `a tensor of rank ${ranks.join(' or ')}`, `shape ${formatShape(shape)}`);
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (data.length !== count)
    throw rangeError(`${arg}.data`, `${count} elements for shape ${formatShape(shape)}`, `${data.length}`);
  return { data, shape: [...(shape as number[])] };
}

/** true = masked → 1 = may attend. */
function invert(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] ? 0 : 1;
  return out;
}

export interface TorchAttnMaskOptions {
  /** Needed for a 3-D attn_mask [B·numHeads, L, S], to split its first axis. */
  numHeads?: number;
}

/**
 * PyTorch attn_mask → our mask. Boolean (true = masked) becomes a Uint8Array
 * (1 = may attend); float stays additive (the same array, not copied). [L, S] stays
 * [L, S]; [B·numHeads, L, S] becomes [B, numHeads, L, S].
 */
export function fromTorchAttnMask(mask: TorchMask, options: TorchAttnMaskOptions = {}): MaskTensor {
  const arg = 'fromTorchAttnMask: mask';
  const m = checkMask(arg, mask, [2, 3]);
  const o = checkOptions('fromTorchAttnMask', options, false, optionKeys<TorchAttnMaskOptions>()({ numHeads: true }));
  let shape = m.shape;
  if (shape.length === 3) {
    if (o.numHeads === undefined) {
      throw typeError('fromTorchAttnMask: numHeads', 'a positive integer for a 3-D attn_mask [B·numHeads, L, S]', o.numHeads);
    }
    const H = checkHeads('fromTorchAttnMask', o.numHeads);
    if (shape[0]! % H !== 0)
      throw rangeError(arg, `a first axis that is a multiple of numHeads (${H})`, `shape ${formatShape(shape)}`);
    shape = [shape[0]! / H, H, shape[1]!, shape[2]!];
  }
  return m.data instanceof Uint8Array ? { data: invert(m.data), shape } : { data: m.data, shape };
}

export interface TorchKeyPaddingMaskOptions {
  /**
   * 'auto' (default): keyLengths when every boolean row is real keys then padding (the
   * usual right padding; faster), else a mask. 'mask': always a mask. 'keyLengths':
   * keyLengths or a RangeError.
   */
  form?: 'auto' | 'mask' | 'keyLengths';
}

/** Forward options for a key padding mask: either keyLengths or a mask [B, 1, 1, S]. */
export type KeyPaddingOptions = { mask: MaskTensor; keyLengths?: undefined } | { keyLengths: Int32Array; mask?: undefined };

/**
 * PyTorch key_padding_mask [B, S] (bool: true = padding; float: added) → forward options
 * ({ keyLengths } or { mask: [B, 1, 1, S] }) to spread into forward()'s options.
 */
export function fromTorchKeyPaddingMask(mask: TorchMask, options: TorchKeyPaddingMaskOptions = {}): KeyPaddingOptions {
  const who = 'fromTorchKeyPaddingMask';
  const m = checkMask(`${who}: mask`, mask, [2]);
  const o = checkOptions(who, options, false, optionKeys<TorchKeyPaddingMaskOptions>()({ form: true }));
  const form = o.form ?? 'auto';
  if (form !== 'auto' && form !== 'mask' && form !== 'keyLengths')
    throw rangeError(`${who}: form`, '"auto", "mask" or "keyLengths"', JSON.stringify(form));
  const [B, S] = m.shape as [number, number];
  if (form !== 'mask') {
    const lengths = m.data instanceof Uint8Array ? suffixLengths(m.data, B, S) : null;
    if (lengths) return { keyLengths: lengths };
    if (form === 'keyLengths') {
      throw rangeError(
        `${who}: mask`,
        'boolean rows of real keys followed by padding (for keyLengths)',
        m.data instanceof Uint8Array ? 'padding before a real key' : 'a float mask',
      );
    }
  }
  const shape = [B, 1, 1, S];
  return { mask: m.data instanceof Uint8Array ? { data: invert(m.data), shape } : { data: m.data, shape } };
}

function suffixLengths(data: Uint8Array, B: number, S: number): Int32Array | null {
  const lengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let len = S;
    for (let j = 0; j < S; j++) {
      if (data[b * S + j]) {
        if (len === S) len = j;
      } else if (len !== S) return null; // a real key after padding
    }
    lengths[b] = len;
  }
  return lengths;
}

export interface TorchMasksOptions {
  attnMask?: TorchMask | null;
  keyPaddingMask?: TorchMask | null;
  /** Needed for a 3-D attn_mask. */
  numHeads?: number;
}

/**
 * Both PyTorch masks → forward options, combined as PyTorch combines them (a position
 * is masked if either masks it; float masks add). The key padding becomes keyLengths
 * when it can, else it is merged with the attn_mask into one mask.
 */
export function fromTorchMasks(options: TorchMasksOptions): AttentionOptions {
  const who = 'fromTorchMasks';
  const o = checkOptions(
    who,
    options,
    true,
    optionKeys<TorchMasksOptions>()({ attnMask: true, keyPaddingMask: true, numHeads: true }),
  );
  const attn =
    o.attnMask == null ? null : fromTorchAttnMask(o.attnMask as TorchMask, { numHeads: o.numHeads as number | undefined });
  if (o.keyPaddingMask == null) return attn ? { mask: attn } : {};
  const kpm = fromTorchKeyPaddingMask(o.keyPaddingMask as TorchMask);
  if (!attn) return kpm;
  if (kpm.keyLengths) return { mask: attn, keyLengths: kpm.keyLengths };
  return { mask: mergeMasks(attn, kpm.mask) };
}

/** attn [L, S] or [B, H, L, S] and padding [B, 1, 1, S], in our convention → one mask [B, H or 1, L, S]. */
function mergeMasks(attn: MaskTensor, pad: MaskTensor): MaskTensor {
  const [B, , , S] = pad.shape as [number, number, number, number];
  const a4 = attn.shape.length === 4 ? attn.shape : [1, 1, attn.shape[0]!, attn.shape[1]!];
  const [aB, H, L, aS] = a4 as [number, number, number, number];
  if (aS !== S || (aB !== 1 && aB !== B)) {
    throw rangeError(
      'fromTorchMasks: keyPaddingMask',
      `shape [${aB === 1 ? 'B' : aB}, ${aS}] to match attnMask ${formatShape(attn.shape)}`,
      formatShape([B, S]),
    );
  }
  const float = attn.data instanceof Float32Array || pad.data instanceof Float32Array;
  const n = B * H * L * S;
  const out = float ? new Float32Array(n) : new Uint8Array(n);
  const additive = (t: MaskTensor, i: number) => (t.data instanceof Float32Array ? t.data[i]! : t.data[i] ? 0 : -Infinity);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < L; i++) {
        const base = ((b * H + h) * L + i) * S;
        const abase = (((aB === 1 ? 0 : b) * H + h) * L + i) * S;
        for (let j = 0; j < S; j++) {
          if (float) out[base + j] = additive(attn, abase + j) + additive(pad, b * S + j);
          else out[base + j] = attn.data[abase + j]! & pad.data[b * S + j]!;
        }
      }
    }
  }
  return { data: out, shape: [B, H, L, S] } as MaskTensor;
}
