// Multi-head attention written with plain TF.js ops (matMul, add, reshape, transpose, softmax),
// shared by the tfjs-node, wasm and cpu peers (functional ops: tfjs-core alone has no chained ops). No fused matMul (the wasm backend gets
// fused matMul + transposeB + bias wrong in 4.22) and no einsum (wasm has no kernel for it).
function attention(tf, t, { B, Lq, Lk, E, H }, headLoop) {
  const D = E / H;
  const heads = (x, L) => tf.transpose(tf.reshape(x, [B, L, H, D]), [0, 2, 1, 3]); // [B,H,L,D]
  const q = heads(tf.mul(tf.add(tf.matMul(t.query, t.wq), t.bq), 1 / Math.sqrt(D)), Lq);
  const kp = tf.add(tf.matMul(t.kv, t.wk), t.bk);
  const v = heads(tf.add(tf.matMul(t.kv, t.wv), t.bv), Lk);
  let ctx;
  if (headLoop) {
    // One 2D matMul per (batch, head), K pre-transposed: [B*H,L,D] slices.
    const qs = tf.unstack(tf.reshape(q, [B * H, Lq, D]));
    const kts = tf.unstack(tf.reshape(tf.transpose(tf.reshape(kp, [B, Lk, H, D]), [0, 2, 3, 1]), [B * H, D, Lk]));
    const vs = tf.unstack(tf.reshape(v, [B * H, Lk, D]));
    ctx = tf.reshape(tf.stack(qs.map((qi, i) => tf.matMul(tf.softmax(tf.matMul(qi, kts[i])), vs[i]))), [B, H, Lq, D]);
  } else {
    const probs = tf.softmax(tf.matMul(q, heads(kp, Lk), false, true)); // [B,H,Lq,Lk]
    ctx = tf.matMul(probs, v);
  }
  ctx = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * Lq, E]);
  return tf.add(tf.matMul(ctx, t.wo), t.bo);
}

// spec: { id, label, backend, importTf: async () => tf namespace, threadNote, init?, notes?, skip?, headLoop?(shape) }
export function makeTfPeer(spec) {
  let tf;
  return {
    id: spec.id,
    label: spec.label,
    skip: spec.skip,
    threadNote: spec.threadNote,
    async load() {
      tf = await spec.importTf();
      if (!(await tf.setBackend(spec.backend))) throw new Error(`backend ${spec.backend} failed to initialise`);
      await tf.ready();
      if (spec.init) spec.init(tf);
      const notes = [...(spec.notes ? await spec.notes(tf) : [])];
      const v = tf.version ?? {};
      const version = v['tfjs-node'] ? `@tensorflow/tfjs-node@${v['tfjs-node']}` : `@tensorflow/tfjs-core@${tf.version_core ?? v['tfjs-core']}`;
      return { version, notes };
    },
    async prepare(c) {
      await tf.setBackend(spec.backend);
      const { B, Lq, Lk, E } = c.shape;
      const W = c.weights;
      const t = {
        query: tf.tensor2d(c.query, [B * Lq, E]),
        wq: tf.tensor2d(W.wq, [E, E]), bq: tf.tensor1d(W.bq),
        wk: tf.tensor2d(W.wk, [E, E]), bk: tf.tensor1d(W.bk),
        wv: tf.tensor2d(W.wv, [E, E]), bv: tf.tensor1d(W.bv),
        wo: tf.tensor2d(W.wo, [E, E]), bo: tf.tensor1d(W.bo),
      };
      t.kv = c.memory ? tf.tensor2d(c.memory, [B * Lk, E]) : t.query;
      const headLoop = spec.headLoop?.(c.shape) ?? false;
      return {
        before: () => tf.setBackend(spec.backend), // untimed: several tfjs backends share one engine
        async run() {
          const y = tf.tidy(() => attention(tf, t, c.shape, headLoop));
          const data = await y.data();
          y.dispose();
          return data;
        },
        dispose() { for (const x of new Set(Object.values(t))) x.dispose(); },
      };
    },
  };
}
