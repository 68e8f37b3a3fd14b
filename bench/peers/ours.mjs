// The ONLY file that touches the native-attention API. Adjust here when the API changes.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

let na = null;

export async function loadOurs() {
  if (!na) {
    // BENCH_OURS_MODULE: benchmark another copy of the package (its directory or entry file) instead.
    const spec = process.env.BENCH_OURS_MODULE;
    const m = await import(
      spec ? pathToFileURL(createRequire(import.meta.url).resolve(path.resolve(spec))).href : 'native-attention'
    );
    na = m.MultiHeadAttention ? m : m.default;
    if (!na?.MultiHeadAttention) throw new Error('native-attention has no MultiHeadAttention export');
  }
  return na;
}

export function setThreads(n) {
  if (na.getNumThreads() !== n) na.setNumThreads(n);
}

// A ready MultiHeadAttention with the case's weights, plus its inputs as package tensors.
// Server cases (c.shape.kind): padded → { keyLengths }, causal → { causal: true } (bottom-right
// aligned; Lq = Lk here). Decode and GQA-prefill cases: detectFeatures and prepareServer below.
// A layer of the case's size holding the case's weights (E×E projections with biases).
function layerFromCase(c) {
  const { E, H } = c.shape;
  const W = c.weights;
  const mha = new na.MultiHeadAttention({ embedDim: E, numHeads: H, seed: 1 });
  const t = (data, shape) => na.tensor(data, shape);
  mha.setWeights({
    wq: t(W.wq, [E, E]),
    bq: t(W.bq, [E]),
    wk: t(W.wk, [E, E]),
    bk: t(W.bk, [E]),
    wv: t(W.wv, [E, E]),
    bv: t(W.bv, [E]),
    wo: t(W.wo, [E, E]),
    bo: t(W.bo, [E]),
  });
  return mha;
}

export function makeMha(c) {
  const { B, Lq, Lk, E } = c.shape;
  const mha = layerFromCase(c);
  const t = (data, shape) => na.tensor(data, shape);
  const query = t(c.query, [B, Lq, E]);
  const kv = c.memory ? t(c.memory, [B, Lk, E]) : query; // self-attention: key = value = query
  const o =
    c.shape.kind === 'padded'
      ? { keyLengths: Int32Array.from(c.keyLengths) }
      : c.shape.kind === 'causal'
        ? { causal: true }
        : undefined;
  return {
    mha,
    forward: () => mha.forward(query, kv, kv, o).data,
    forwardAsync: async () => (await mha.forwardAsync(query, kv, kv, o)).data,
    forwardWithWeights: () => mha.forwardWithWeights(query, kv, kv, o).output.data,
  };
}

// ---------- features of the serving and decoding issues, detected on tiny layers ----------
// The decode (D1, D8), GQA-prefill (P1) and packed (M1) rows use:
//   new MultiHeadAttention({ embedDim, numHeads, numKvHeads, useBias: false, rotary: { base: 10000 } })
//     wk, wv: [E, numKvHeads·D]; query head h uses key/value head floor(h / (numHeads / numKvHeads))
//   const cache = mha.createCache({ batch, maxLength }); mha.forward(x [B, L, E], null, null, { cache })
//     appends L tokens to the cache and attends over everything cached (causal within the call)
//   mha.forward(x2d [ΣL, E], null, null, { sequenceLengths: Int32Array [B], causal }) → [ΣL, E]
//     (packed variable-length batch, no padding)
// They are detected, so that the benchmark also runs against an older build of the package
// (its rows then say "not built yet"). An option a build does not know is either rejected
// (TypeError / RangeError) or ignored, so each probe checks an effect: GQA weights accepted,
// rotary changes the output, the packed call returns the packed shape, createCache exists.
let features = null;
export function detectFeatures() {
  if (features) return features;
  const E = 8,
    H = 4,
    Hkv = 2,
    L = 3;
  const t = (n, shape) =>
    na.tensor(
      Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + 0.3)),
      shape,
    );
  const gqa = (extra) => {
    const m = new na.MultiHeadAttention({ embedDim: E, numHeads: H, numKvHeads: Hkv, useBias: false, ...extra });
    m.setWeights({ wq: t(E * E, [E, E]), wk: t(E * 4, [E, 4]), wv: t(E * 4, [E, 4]), wo: t(E * E, [E, E]) });
    return m;
  };
  const tryIt = (f) => {
    try {
      return f();
    } catch {
      return false;
    }
  };
  features = {
    numKvHeads: tryIt(() => {
      gqa({}).dispose?.();
      return true;
    }),
  };
  features.rotary =
    features.numKvHeads &&
    tryIt(() => {
      const x = t(L * E, [1, L, E]);
      const a = gqa({}).forward(x, null, null, { causal: true }).data;
      const b = gqa({ rotary: { base: 10000 } }).forward(x, null, null, { causal: true }).data;
      return a.some((v, i) => Math.abs(v - b[i]) > 1e-6);
    });
  features.cache = features.numKvHeads && tryIt(() => typeof gqa({}).createCache === 'function');
  // packed [2 + 3 tokens] must equal the two sequences run alone (an ignored option would run
  // the 5 tokens as one unbatched sequence)
  features.sequenceLengths = tryIt(() => {
    const m = new na.MultiHeadAttention({ embedDim: E, numHeads: 2, seed: 1 });
    const x = t(5 * E, [5, E]);
    const y = m.forward(x, null, null, { sequenceLengths: Int32Array.of(2, 3) }).data;
    const a = m.forward(na.tensor(x.data.slice(0, 2 * E), [1, 2, E])).data;
    const b = m.forward(na.tensor(x.data.slice(2 * E), [1, 3, E])).data;
    return y.length === 5 * E && [...a, ...b].every((v, i) => Math.abs(v - y[i]) <= 1e-5 * (1 + Math.abs(v)));
  });
  return features;
}

const NOT_BUILT = {
  packed: 'not built yet (serving issue: packed batches, forward(x2d, null, null, { sequenceLengths }))',
  decode: 'not built yet (decoding issue: KV cache, createCache + numKvHeads)',
  prefill: 'not built yet (decoding issue: numKvHeads + rotary)',
};
export function notBuilt(kind) {
  const f = detectFeatures();
  if (kind === 'decode' && !(f.numKvHeads && f.cache)) return NOT_BUILT.decode;
  if (kind === 'prefill' && !(f.numKvHeads && f.rotary)) return NOT_BUILT.prefill;
  if (kind === 'packed' && !f.sequenceLengths) return NOT_BUILT.packed;
  return null;
}

function gqaLayer(c) {
  const s = c.shape;
  const { E, H } = s;
  const Ekv = s.Hkv * (E / H);
  const W = c.weights;
  const mha = new na.MultiHeadAttention({
    embedDim: E,
    numHeads: H,
    numKvHeads: s.Hkv,
    useBias: false,
    ...(s.rotaryBase ? { rotary: { base: s.rotaryBase } } : {}),
  });
  mha.setWeights({
    wq: na.tensor(W.wq, [E, E]),
    wk: na.tensor(W.wk, [E, Ekv]),
    wv: na.tensor(W.wv, [E, Ekv]),
    wo: na.tensor(W.wo, [E, E]),
  });
  return mha;
}

// Decode (D1, D8) and GQA prefill (P1) once the features exist.
function prepareServer(c) {
  const s = c.shape;
  const mha = gqaLayer(c);
  if (s.kind === 'prefill') {
    const x = na.tensor(c.query, [s.B, s.Lq, s.E]);
    return { run: () => mha.forward(x, null, null, { causal: true }).data, dispose: () => mha.dispose?.() };
  }
  // decode: prefill the cache with the context (untimed), then time one step; before each timed
  // step the cache goes back to `past` tokens: cache.truncate(n) if it exists, else a fresh cache.
  const ctx = na.tensor(c.context, [s.B, s.past, s.E]);
  const x = na.tensor(c.query, [s.B, 1, s.E]);
  let cache = null;
  const fill = () => {
    cache = mha.createCache({ batch: s.B, maxLength: s.Lk });
    mha.forward(ctx, null, null, { cache });
  };
  fill();
  let dirty = false;
  return {
    before: () => {
      if (!dirty) return;
      if (typeof cache.truncate === 'function') cache.truncate(s.past);
      else fill();
      dirty = false;
    },
    run: () => {
      dirty = true;
      return mha.forward(x, null, null, { cache }).data;
    },
    dispose: () => mha.dispose?.(),
  };
}

// sgemm GFLOP/s of an n×n×n product through the package's matmul (OpenBLAS) at `threads`.
export function sgemmGflops(n, threads, { reps = 3, budgetMs = 4000 } = {}) {
  setThreads(threads);
  const a = na.tensor(
    Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5),
    [n, n],
  );
  const b = na.tensor(
    Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5),
    [n, n],
  );
  const out = new Float32Array(n * n);
  na.matmul(a, b, out); // warm-up
  const times = [];
  const start = performance.now();
  while (times.length < reps && (times.length === 0 || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    na.matmul(a, b, out);
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  const ms = times[times.length >> 1];
  return { n, ms, gflops: (2 * n ** 3) / (ms * 1e6), reps: times.length };
}

// The attention core alone: scaledDotProductAttention on [1, 16, 2048, 64] heads, no mask
// (4·L²·D flops per head), at `threads`: what the fused kernel does against the same run's
// sgemm ceiling (issue 10 asks for >= 90% of it).
export function attentionCoreGflops(threads, { reps = 3, budgetMs = 6000, H = 16, L = 2048, D = 64 } = {}) {
  if (typeof na?.scaledDotProductAttention !== 'function') return { error: 'no scaledDotProductAttention' };
  setThreads(threads);
  const heads = (seed) =>
    na.tensor(
      Float32Array.from({ length: H * L * D }, (_, i) => Math.sin(i * 0.37 + seed)),
      [1, H, L, D],
    );
  const [q, k, v] = [heads(1), heads(2), heads(3)];
  const out = new Float32Array(H * L * D);
  na.scaledDotProductAttention(q, k, v, { out }); // warm-up
  const times = [];
  const start = performance.now();
  while (times.length < reps && (times.length === 0 || performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    na.scaledDotProductAttention(q, k, v, { out });
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  const ms = times[times.length >> 1];
  return { shape: `B=1 H=${H} L=${L} D=${D}`, ms, gflops: (4 * H * L * L * D) / (ms * 1e6), reps: times.length };
}

// BLAS description for the report header, if the package exposes one.
export function blasInfo() {
  if (typeof na?.blasInfo !== 'function') return null;
  const v = na.blasInfo();
  if (typeof v === 'string') return v;
  const { config, coreName, cores, ...rest } = v ?? {};
  const extra = Object.entries(rest).map(([k, x]) => `${k} ${x}`);
  return [config, coreName && `kernel ${coreName}`, cores && `${cores} cores`, ...extra].filter(Boolean).join(' · ');
}

export default {
  id: 'ours',
  label: 'native-attention (ours)',
  threadNote: (n) => `setNumThreads(${n})`,
  async load() {
    await loadOurs();
    let version = '?';
    try {
      const spec = process.env.BENCH_OURS_MODULE;
      const req = createRequire(import.meta.url);
      version = spec ? req(path.join(path.resolve(spec), 'package.json')).version : req('native-attention/package.json').version;
    } catch {}
    return { version: `native-attention@${version}`, notes: [] };
  },
  // a row that says why, for cases whose feature is not built yet
  notBuilt: (shape) => (shape.kind === 'decode' || shape.kind === 'prefill' ? notBuilt(shape.kind) : null),
  // opts.mode: 'forward' (default) | 'forwardWithWeights' | 'forwardAsync'
  async prepare(c, threads, opts = {}) {
    setThreads(threads);
    if (c.shape.kind === 'decode' || c.shape.kind === 'prefill') {
      const r = prepareServer(c);
      return {
        ...r,
        before: () => {
          setThreads(threads);
          r.before?.();
        },
      };
    }
    const m = makeMha(c);
    const fn = m[opts.mode ?? 'forward'];
    return {
      before: () => setThreads(threads),
      run: fn,
      dispose: () => m.mha.dispose?.(),
    };
  },
};

// Ours on a packed batch (M1 only): the real tokens of every sequence back to back, no padding.
export const oursPacked = {
  id: 'ours-packed',
  label: 'native-attention, packed sequenceLengths (M1)',
  threadNote: (n) => `setNumThreads(${n})`,
  applies: (shape) => shape.kind === 'padded',
  async load() {
    await loadOurs();
    return { version: 'same package', notes: [] };
  },
  notBuilt: () => notBuilt('packed'),
  async prepare(c, threads) {
    setThreads(threads);
    const { B, Lq, E } = c.shape;
    const lens = c.keyLengths;
    const total = lens.reduce((a, b) => a + b, 0);
    const x = new Float32Array(total * E);
    for (let b = 0, o = 0; b < B; o += lens[b], b++) x.set(c.query.subarray(b * Lq * E, (b * Lq + lens[b]) * E), o * E);
    const mha = layerFromCase(c);
    const t = (data, shape) => na.tensor(data, shape);
    const x2d = t(x, [total, E]);
    const o = { sequenceLengths: Int32Array.from(lens) };
    return {
      before: () => setThreads(threads),
      run: () => mha.forward(x2d, null, null, o).data,
      // for the check only: the packed rows put back at their padded positions (pads left 0,
      // and only real rows are compared)
      realRowsOnly: true,
      toPadded(out) {
        const y = new Float32Array(B * Lq * E);
        for (let b = 0, o2 = 0; b < B; o2 += lens[b], b++) y.set(out.subarray(o2 * E, (o2 + lens[b]) * E), b * Lq * E);
        return y;
      },
      dispose: () => mha.dispose?.(),
    };
  },
};

// The vector path our kernels took, if the package reports it (cpuInfo().isa), else 'n/a'.
export function kernelIsa() {
  try {
    const v = typeof na?.cpuInfo === 'function' ? na.cpuInfo() : null;
    return v?.isa ?? (typeof v === 'string' ? v : 'n/a');
  } catch {
    return 'n/a';
  }
}

// OpenBLAS's kernel family (blasInfo().coreName), or null.
export function blasCore() {
  try {
    return typeof na?.blasInfo === 'function' ? (na.blasInfo()?.coreName ?? null) : null;
  } catch {
    return null;
  }
}
