// Builds the two ONNX attention graphs for one shape, weights as initializers.
//  'mha':   MatMul projections -> com.microsoft.MultiHeadAttention (bias input) -> MatMul + Add
//  'plain': MatMul/Add -> Reshape/Transpose -> MatMul -> Mul(scale) -> Softmax -> MatMul -> Transpose/Reshape -> MatMul/Add
import { tensorProto, valueInfo, node, model } from './proto.mjs';

export function buildAttentionModel(variant, c) {
  const { B, Lq, Lk, E, H, cross } = c.shape;
  const D = E / H;
  const W = c.weights;
  const kvName = cross ? 'memory' : 'query';
  const inits = [];
  const nodes = [];
  const init = (name, dims, data) => { inits.push(tensorProto(name, dims, data)); return name; };
  for (const k of ['wq', 'wk', 'wv', 'wo']) init(k, [E, E], W[k]);
  init('bo', [E], W.bo);

  if (variant === 'mha') {
    const bias = new Float32Array(3 * E);
    bias.set(W.bq, 0); bias.set(W.bk, E); bias.set(W.bv, 2 * E);
    init('qkv_bias', [3 * E], bias);
    nodes.push(node('MatMul', ['query', 'wq'], ['q']));
    nodes.push(node('MatMul', [kvName, 'wk'], ['k']));
    nodes.push(node('MatMul', [kvName, 'wv'], ['v']));
    nodes.push(node('MultiHeadAttention', ['q', 'k', 'v', 'qkv_bias'], ['ctx'], { num_heads: H }, 'com.microsoft'));
  } else if (variant === 'plain') {
    for (const k of ['bq', 'bk', 'bv']) init(k, [E], W[k]);
    init('shape_q', [4], [B, Lq, H, D]);
    init('shape_k', [4], [B, Lk, H, D]);
    init('shape_out', [3], [B, Lq, E]);
    init('scale', [], Float32Array.of(1 / Math.sqrt(D)));
    const proj = (x, w, b, out) => {
      nodes.push(node('MatMul', [x, w], [`${out}_mm`]));
      nodes.push(node('Add', [`${out}_mm`, b], [out]));
    };
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
    nodes.push(node('Mul', ['scores_raw', 'scale'], ['scores']));
    nodes.push(node('Softmax', ['scores'], ['probs'], { axis: -1 }));
    nodes.push(node('MatMul', ['probs', 'vh'], ['ctx4'])); // B,H,Lq,D
    nodes.push(node('Transpose', ['ctx4'], ['ctx_t'], { perm: [0, 2, 1, 3] }));
    nodes.push(node('Reshape', ['ctx_t', 'shape_out'], ['ctx']));
  } else {
    throw new Error(`unknown ONNX variant ${variant}`);
  }
  nodes.push(node('MatMul', ['ctx', 'wo'], ['out_mm']));
  nodes.push(node('Add', ['out_mm', 'bo'], ['output']));

  const inputs = [valueInfo('query', [B, Lq, E])];
  if (cross) inputs.push(valueInfo('memory', [B, Lk, E]));
  return model({
    nodes, initializers: inits, inputs, outputs: [valueInfo('output', [B, Lq, E])],
    opsets: variant === 'mha' ? { '': 17, 'com.microsoft': 1 } : { '': 17 },
  });
}
