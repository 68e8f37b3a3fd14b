// Multi-head attention written with plain TF.js ops (matMul, add, reshape, transpose, softmax),
// shared by the tfjs-node, wasm and cpu peers (functional ops: tfjs-core alone has no chained ops). No fused matMul (the wasm backend gets
// fused matMul + transposeB + bias wrong in 4.22) and no einsum (wasm has no kernel for it).
// Server cases: an additive mask (0 / -1e9) for padded and causal cases; grouped-query attention
// by folding each key/value head's query heads into its rows ([B, Hkv, G·Lq, D] against
// [B, Hkv, Lk, D]: no repeated keys); rotary as rotate-half with slices; a decode step concatenates
// the cached keys/values [B, Hkv, past, D] with the new token's (as a framework without an
// in-place cache does).
const NEG = -1e9;

function attention(tf, t, s, headLoop) {
  const { B, Lq, Lk, E, H } = s;
  const D = E / H;
  const Hkv = s.Hkv ?? H;
  const G = H / Hkv;
  const Lnew = s.kind === 'decode' ? Lq : Lk; // key/value tokens projected in this call
  const lin = (x, w, b) => (b ? tf.add(tf.matMul(x, w), b) : tf.matMul(x, w));
  const heads = (x, L, n) => tf.transpose(tf.reshape(x, [B, L, n, D]), [0, 2, 1, 3]); // [B,n,L,D]
  const rot = (x, pos0, L) => {
    // rotate-half on [B, n, L, D] at positions pos0..pos0+L-1
    const cos = tf.slice(t.cos, [pos0, 0], [L, D / 2]);
    const sin = tf.slice(t.sin, [pos0, 0], [L, D / 2]);
    const [x1, x2] = tf.split(x, 2, 3);
    return tf.concat([tf.sub(tf.mul(x1, cos), tf.mul(x2, sin)), tf.add(tf.mul(x2, cos), tf.mul(x1, sin))], 3);
  };
  let q = heads(lin(t.query, t.wq, t.bq), Lq, H);
  let k = heads(lin(t.kv, t.wk, t.bk), Lnew, Hkv);
  let v = heads(lin(t.kv, t.wv, t.bv), Lnew, Hkv);
  if (t.cos) {
    q = rot(q, Lk - Lq, Lq);
    k = rot(k, Lk - Lnew, Lnew);
  }
  q = tf.mul(q, 1 / Math.sqrt(D));
  if (t.pastKey) {
    k = tf.concat([t.pastKey, k], 2);
    v = tf.concat([t.pastValue, v], 2);
  }
  let ctx;
  if (G > 1) {
    const qg = tf.reshape(q, [B, Hkv, G * Lq, D]); // query heads of one KV head stacked as rows
    let scores = tf.matMul(qg, k, false, true); // [B, Hkv, G·Lq, Lk]
    if (t.mask) scores = tf.add(scores, t.mask);
    ctx = tf.reshape(tf.matMul(tf.softmax(scores), v), [B, H, Lq, D]);
  } else if (headLoop) {
    // One 2D matMul per (batch, head), K pre-transposed: [B*H,L,D] slices.
    const qs = tf.unstack(tf.reshape(q, [B * H, Lq, D]));
    const kts = tf.unstack(tf.reshape(tf.transpose(k, [0, 1, 3, 2]), [B * H, D, Lk]));
    const vs = tf.unstack(tf.reshape(v, [B * H, Lk, D]));
    const m2 = t.mask && tf.reshape(t.mask, t.mask.shape.slice(-2)); // causal [Lq, Lk] (B = 1 here)
    ctx = tf.reshape(
      tf.stack(
        qs.map((qi, i) => {
          const sc = tf.matMul(qi, kts[i]);
          return tf.matMul(tf.softmax(m2 ? tf.add(sc, m2) : sc), vs[i]);
        }),
      ),
      [B, H, Lq, D],
    );
  } else {
    let scores = tf.matMul(q, k, false, true); // [B,H,Lq,Lk]
    if (t.mask) scores = tf.add(scores, t.mask);
    ctx = tf.matMul(tf.softmax(scores), v);
  }
  ctx = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * Lq, E]);
  return lin(ctx, t.wo, t.bo);
}

// The additive mask of a case, or null: padded [B,1,1,Lk]; causal [1,1,Lq,Lk]; GQA prefill
// [1,1,G·Lq,Lk] (the causal rows repeated for each of a KV head's G query heads).
function additiveMask(s, keyLengths) {
  const { B, Lq, Lk } = s;
  if (s.kind === 'padded') {
    const m = new Float32Array(B * Lk);
    for (let b = 0; b < B; b++) m.fill(NEG, b * Lk + keyLengths[b], (b + 1) * Lk);
    return { data: m, shape: [B, 1, 1, Lk] };
  }
  if (s.kind === 'causal' || s.kind === 'prefill') {
    const G = s.H / (s.Hkv ?? s.H);
    const m = new Float32Array(G * Lq * Lk);
    for (let g = 0; g < G; g++) {
      for (let i = 0; i < Lq; i++) m.fill(NEG, (g * Lq + i) * Lk + i + (Lk - Lq) + 1, (g * Lq + i + 1) * Lk);
    }
    return { data: m, shape: [1, 1, G * Lq, Lk] };
  }
  return null;
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
      const version = v['tfjs-node']
        ? `@tensorflow/tfjs-node@${v['tfjs-node']}`
        : `@tensorflow/tfjs-core@${tf.version_core ?? v['tfjs-core']}`;
      return { version, notes };
    },
    async prepare(c) {
      await tf.setBackend(spec.backend);
      const s = c.shape;
      const { B, Lq, Lk, E, H } = s;
      const D = E / H;
      const Ekv = (s.Hkv ?? H) * D;
      const W = c.weights;
      const t = {
        query: tf.tensor2d(c.query, [B * Lq, E]),
        wq: tf.tensor2d(W.wq, [E, E]),
        wk: tf.tensor2d(W.wk, [E, Ekv]),
        wv: tf.tensor2d(W.wv, [E, Ekv]),
        wo: tf.tensor2d(W.wo, [E, E]),
      };
      if (W.bq) Object.assign(t, { bq: tf.tensor1d(W.bq), bk: tf.tensor1d(W.bk), bv: tf.tensor1d(W.bv), bo: tf.tensor1d(W.bo) });
      t.kv = c.memory ? tf.tensor2d(c.memory, [B * Lk, E]) : t.query;
      const mask = additiveMask(s, c.keyLengths);
      if (mask) t.mask = tf.tensor(mask.data, mask.shape);
      if (c.cos) {
        t.cos = tf.tensor2d(c.cos, [Lk, D / 2]);
        t.sin = tf.tensor2d(c.sin, [Lk, D / 2]);
      }
      if (c.pastKey) {
        t.pastKey = tf.tensor4d(c.pastKey, [B, s.Hkv, s.past, D]);
        t.pastValue = tf.tensor4d(c.pastValue, [B, s.Hkv, s.past, D]);
      }
      const headLoop = (!s.kind || s.kind === 'causal') && (spec.headLoop?.(s) ?? false);
      return {
        before: () => tf.setBackend(spec.backend), // untimed: several tfjs backends share one engine
        // the output is disposed explicitly, never read inside tf.tidy (dataSync there walks it again)
        async run() {
          const y = tf.tidy(() => attention(tf, t, s, headLoop));
          const data = await y.data();
          y.dispose();
          return data;
        },
        dispose() {
          for (const x of new Set(Object.values(t))) x.dispose();
        },
      };
    },
  };
}
