// y[rows, N] = x[rows, K] · w[K, N] in float32 with onnxruntime (one MatMul node): builds the
// decode cases' key/value caches from their context tokens (lib/data.mjs completeCase).
import { tensorProto, valueInfo, node, model } from './proto.mjs';

export async function projectRows(x, rows, K, w, N) {
  const m = await import('onnxruntime-node');
  const ort = m.default ?? m;
  const bytes = model({
    nodes: [node('MatMul', ['x', 'w'], ['y'])],
    initializers: [tensorProto('w', [K, N], w)],
    inputs: [valueInfo('x', [rows, K])],
    outputs: [valueInfo('y', [rows, N])],
    opsets: { '': 17 },
  });
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const r = await session.run({ x: new ort.Tensor('float32', x, [rows, K]) });
    return r.y.data;
  } finally {
    await session.release();
  }
}
