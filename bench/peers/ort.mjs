import { buildAttentionModel, modelFeeds, VARIANT_KINDS } from '../onnx/attention-models.mjs';

let ort;
async function loadOrt() {
  if (!ort) {
    const m = await import('onnxruntime-node');
    ort = m.default ?? m;
  }
  return ort;
}

// variant: 'mha' = com.microsoft.MultiHeadAttention, 'plain' = MatMul/Softmax graph,
// 'attn' = com.microsoft.Attention, 'gqa' = com.microsoft.GroupQueryAttention (onnx/attention-models.mjs).
function makeOrtPeer(variant, id, label) {
  const kinds = VARIANT_KINDS[variant];
  return {
    id,
    label,
    threadNote: (n, opts = {}) =>
      `intraOpNumThreads=${n}, interOpNumThreads=1, intra-op spinning ${opts.ortSpin ? 'on (ORT default)' : 'off'}`,
    // not applicable (row left out of the tables): a case kind this graph does not compute
    applies: (shape) => kinds.includes(shape.kind),
    async load() {
      await loadOrt();
      const { createRequire } = await import('node:module');
      const version = createRequire(import.meta.url)('onnxruntime-node/package.json').version;
      return { version: `onnxruntime-node@${version}`, notes: ['graphOptimizationLevel all, weights as initializers'] };
    },
    // Spinning is off unless opts.ortSpin: in interleaved rounds the idle workers of one session
    // spin on the cores the next session (or peer) needs; on 2 cores that doubled ORT's own times.
    async prepare(c, threads, opts = {}) {
      const o = await loadOrt();
      const session = await o.InferenceSession.create(buildAttentionModel(variant, c), {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        logSeverityLevel: 3,
        extra: opts.ortSpin ? {} : { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      });
      const feeds = modelFeeds(variant, c, o.Tensor);
      return {
        // all outputs are fetched: a decode step returns present_key/present_value for the next step
        async run() {
          const r = await session.run(feeds);
          return r.output.data;
        },
        dispose: () => session.release(),
      };
    },
  };
}

export const ortMha = makeOrtPeer('mha', 'ort-mha', 'onnxruntime-node, com.microsoft.MultiHeadAttention');
export const ortPlain = makeOrtPeer('plain', 'ort-plain', 'onnxruntime-node, plain MatMul/Softmax graph');
export const ortAttn = makeOrtPeer('attn', 'ort-attn', 'onnxruntime-node, com.microsoft.Attention (server cases)');
export const ortGqa = makeOrtPeer('gqa', 'ort-gqa', 'onnxruntime-node, com.microsoft.GroupQueryAttention (server cases)');
