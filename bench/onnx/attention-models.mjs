// Builds the ONNX attention graphs for one case, weights as initializers, and their feeds.
//  'mha':   MatMul projections -> com.microsoft.MultiHeadAttention (bias input; padded: key_padding_mask
//           [B, Lk] int32; causal: unidirectional=1) -> MatMul + Add
//  'plain': MatMul/Add -> Reshape/Transpose -> MatMul -> Mul(scale) [-> Add(mask)] -> Softmax -> MatMul
//           -> Transpose/Reshape -> MatMul/Add (padded: mask [B,1,1,Lk], causal: [1,1,L,L], 0 / -1e9)
//  'attn':  com.microsoft.Attention (its own QKV projection from one [E, 3E] weight; padded: mask_index
//           [B] = key lengths; causal: unidirectional=1) -> MatMul + Add        (server cases only)
//  'gqa':   MatMul (+Add) projections -> com.microsoft.GroupQueryAttention (causal, bottom-right;
//           decode: past_key/past_value [B, Hkv, past, D] fed as inputs, present_* returned;
//           prefill: do_rotary=1 with cos_cache/sin_cache [L, D/2]) -> MatMul (+Add)
//           (causal, prefill and decode cases)
import { tensorProto, valueInfo, node, model, INT32 } from './proto.mjs';
import { kvDim } from '../lib/shapes.mjs';

// Which case kinds each graph computes (undefined = the plain S shapes).
export const VARIANT_KINDS = {
  mha: [undefined, 'padded', 'causal'],
  plain: [undefined, 'padded', 'causal'],
  attn: ['padded', 'causal'],
  gqa: ['causal', 'prefill', 'decode'],
};

const NEG = -1e9; // additive mask value: exp underflows to 0 in float32, no -inf arithmetic

export function buildAttentionModel(variant, c) {
  const s = c.shape;
  const { B, Lq, Lk, E, H, cross } = s;
  const D = E / H;
  const Ekv = kvDim(s);
  const W = c.weights;
  const kvName = cross ? 'memory' : 'query';
  const inits = [];
  const nodes = [];
  const inputs = [valueInfo('query', [B, Lq, E])];
  const outputs = [valueInfo('output', [B, Lq, E])];
  const init = (name, dims, data) => {
    inits.push(tensorProto(name, dims, data));
    return name;
  };
  const proj = (x, w, b, out) => {
    // out = x·w (+ b)
    if (!b) {
      nodes.push(node('MatMul', [x, w], [out]));
      return;
    }
    nodes.push(node('MatMul', [x, w], [`${out}_mm`]));
    nodes.push(node('Add', [`${out}_mm`, b], [out]));
  };
  if (cross) inputs.push(valueInfo('memory', [B, Lk, E]));
  if (variant !== 'attn') for (const k of ['wq', 'wk', 'wv']) init(k, k === 'wq' ? [E, E] : [E, Ekv], W[k]);
  init('wo', [E, E], W.wo);
  if (W.bo) init('bo', [E], W.bo);

  if (variant === 'mha') {
    const bias = new Float32Array(3 * E);
    bias.set(W.bq, 0);
    bias.set(W.bk, E);
    bias.set(W.bv, 2 * E);
    init('qkv_bias', [3 * E], bias);
    nodes.push(node('MatMul', ['query', 'wq'], ['q']));
    nodes.push(node('MatMul', [kvName, 'wk'], ['k']));
    nodes.push(node('MatMul', [kvName, 'wv'], ['v']));
    const ins = ['q', 'k', 'v', 'qkv_bias'];
    if (s.kind === 'padded') {
      ins.push('key_padding_mask');
      inputs.push(valueInfo('key_padding_mask', [B, Lk], INT32));
    }
    nodes.push(
      node(
        'MultiHeadAttention',
        ins,
        ['ctx'],
        { num_heads: H, ...(s.kind === 'causal' ? { unidirectional: 1 } : {}) },
        'com.microsoft',
      ),
    );
  } else if (variant === 'attn') {
    const w = new Float32Array(E * 3 * E);
    for (let r = 0; r < E; r++) {
      w.set(W.wq.subarray(r * E, (r + 1) * E), r * 3 * E);
      w.set(W.wk.subarray(r * E, (r + 1) * E), r * 3 * E + E);
      w.set(W.wv.subarray(r * E, (r + 1) * E), r * 3 * E + 2 * E);
    }
    const bias = new Float32Array(3 * E);
    bias.set(W.bq, 0);
    bias.set(W.bk, E);
    bias.set(W.bv, 2 * E);
    init('qkv_w', [E, 3 * E], w);
    init('qkv_bias', [3 * E], bias);
    const ins = ['query', 'qkv_w', 'qkv_bias'];
    if (s.kind === 'padded') {
      ins.push('mask_index');
      inputs.push(valueInfo('mask_index', [B], INT32));
    }
    nodes.push(
      node('Attention', ins, ['ctx'], { num_heads: H, ...(s.kind === 'causal' ? { unidirectional: 1 } : {}) }, 'com.microsoft'),
    );
  } else if (variant === 'plain') {
    for (const k of ['bq', 'bk', 'bv']) init(k, [E], W[k]);
    init('shape_q', [4], [B, Lq, H, D]);
    init('shape_k', [4], [B, Lk, H, D]);
    init('shape_out', [3], [B, Lq, E]);
    init('scale', [], Float32Array.of(1 / Math.sqrt(D)));
    proj('query', 'wq', 'bq', 'q');
    proj(kvName, 'wk', 'bk', 'k');
    proj(kvName, 'wv', 'bv', 'v');
    nodes.push(node('Reshape', ['q', 'shape_q'], ['q4']));
    nodes.push(node('Transpose', ['q4'], ['qh'], { perm: [0, 2, 1, 3] })); // B,H,Lq,D
    nodes.push(node('Reshape', ['k', 'shape_k'], ['k4']));
    nodes.push(node('Transpose', ['k4'], ['kt'], { perm: [0, 2, 3, 1] })); // B,H,D,Lk
    nodes.push(node('Reshape', ['v', 'shape_k'], ['v4']));
    nodes.push(node('Transpose', ['v4'], ['vh'], { perm: [0, 2, 1, 3] })); // B,H,Lk,D
    nodes.push(node('MatMul', ['qh', 'kt'], ['scores_raw']));
    nodes.push(node('Mul', ['scores_raw', 'scale'], [s.kind ? 'scores_unmasked' : 'scores']));
    if (s.kind === 'padded' || s.kind === 'causal') {
      inputs.push(valueInfo('mask', s.kind === 'padded' ? [B, 1, 1, Lk] : [1, 1, Lq, Lk]));
      nodes.push(node('Add', ['scores_unmasked', 'mask'], ['scores']));
    }
    nodes.push(node('Softmax', ['scores'], ['probs'], { axis: -1 }));
    nodes.push(node('MatMul', ['probs', 'vh'], ['ctx4'])); // B,H,Lq,D
    nodes.push(node('Transpose', ['ctx4'], ['ctx_t'], { perm: [0, 2, 1, 3] }));
    nodes.push(node('Reshape', ['ctx_t', 'shape_out'], ['ctx']));
  } else if (variant === 'gqa') {
    if (W.bq) {
      init('bq', [E], W.bq);
      init('bk', [Ekv], W.bk);
      init('bv', [Ekv], W.bv);
    }
    proj('query', 'wq', W.bq && 'bq', 'q');
    proj('query', 'wk', W.bk && 'bk', 'k');
    proj('query', 'wv', W.bv && 'bv', 'v');
    const Hkv = s.Hkv ?? H;
    const ins = ['q', 'k', 'v', '', '', 'seqlens_k', 'total_sequence_length'];
    if (s.kind === 'decode') {
      ins[3] = 'past_key';
      ins[4] = 'past_value';
      inputs.push(valueInfo('past_key', [B, Hkv, s.past, D]), valueInfo('past_value', [B, Hkv, s.past, D]));
      outputs.push(valueInfo('present_key', [B, Hkv, Lk, D]), valueInfo('present_value', [B, Hkv, Lk, D]));
    }
    inputs.push(valueInfo('seqlens_k', [B], INT32), valueInfo('total_sequence_length', [], INT32));
    if (s.rotaryBase) {
      init('cos_cache', [Lk, D / 2], c.cos);
      init('sin_cache', [Lk, D / 2], c.sin);
      ins.push('cos_cache', 'sin_cache');
    }
    const outs = [
      'ctx',
      s.kind === 'decode' ? 'present_key' : 'present_key_unused',
      s.kind === 'decode' ? 'present_value' : 'present_value_unused',
    ];
    nodes.push(
      node(
        'GroupQueryAttention',
        ins,
        outs,
        { num_heads: H, kv_num_heads: Hkv, do_rotary: s.rotaryBase ? 1 : 0 },
        'com.microsoft',
      ),
    );
  } else {
    throw new Error(`unknown ONNX variant ${variant}`);
  }
  if (W.bo) {
    nodes.push(node('MatMul', ['ctx', 'wo'], ['out_mm']));
    nodes.push(node('Add', ['out_mm', 'bo'], ['output']));
  } else {
    nodes.push(node('MatMul', ['ctx', 'wo'], ['output']));
  }
  return model({
    nodes,
    initializers: inits,
    inputs,
    outputs,
    opsets: variant === 'plain' ? { '': 17 } : { '': 17, 'com.microsoft': 1 },
  });
}

// The feeds of buildAttentionModel(variant, c)'s graph; Tensor = onnxruntime's Tensor class.
export function modelFeeds(variant, c, Tensor) {
  const s = c.shape;
  const { B, Lq, Lk, E, H } = s;
  const D = E / H;
  const f = { query: new Tensor('float32', c.query, [B, Lq, E]) };
  if (c.memory) f.memory = new Tensor('float32', c.memory, [B, Lk, E]);
  if (s.kind === 'padded') {
    if (variant === 'mha') {
      const m = new Int32Array(B * Lk);
      for (let b = 0; b < B; b++) m.fill(1, b * Lk, b * Lk + c.keyLengths[b]);
      f.key_padding_mask = new Tensor('int32', m, [B, Lk]);
    } else if (variant === 'attn') {
      f.mask_index = new Tensor('int32', Int32Array.from(c.keyLengths), [B]);
    } else if (variant === 'plain') {
      const m = new Float32Array(B * Lk);
      for (let b = 0; b < B; b++) m.fill(NEG, b * Lk + c.keyLengths[b], (b + 1) * Lk);
      f.mask = new Tensor('float32', m, [B, 1, 1, Lk]);
    }
  }
  if (s.kind === 'causal' && variant === 'plain') {
    const m = new Float32Array(Lq * Lk);
    for (let i = 0; i < Lq; i++) m.fill(NEG, i * Lk + i + (Lk - Lq) + 1, (i + 1) * Lk);
    f.mask = new Tensor('float32', m, [1, 1, Lq, Lk]);
  }
  if (variant === 'gqa') {
    f.seqlens_k = new Tensor('int32', new Int32Array(B).fill(Lk - 1), [B]);
    f.total_sequence_length = new Tensor('int32', Int32Array.of(Lk), []);
    if (s.kind === 'decode') {
      const Hkv = s.Hkv ?? H;
      f.past_key = new Tensor('float32', c.pastKey, [B, Hkv, s.past, D]);
      f.past_value = new Tensor('float32', c.pastValue, [B, Hkv, s.past, D]);
    }
  }
  return f;
}
