// The ONLY file that touches the native-attention API. Adjust here when the API changes.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

let na = null;

export async function loadOurs() {
  if (!na) {
    // BENCH_OURS_MODULE: benchmark another copy of the package (its directory or entry file) instead.
    const spec = process.env.BENCH_OURS_MODULE;
    const m = await import(spec ? pathToFileURL(createRequire(import.meta.url).resolve(path.resolve(spec))).href : 'native-attention');
    na = m.MultiHeadAttention ? m : m.default;
    if (!na?.MultiHeadAttention) throw new Error('native-attention has no MultiHeadAttention export');
  }
  return na;
}

export function setThreads(n) {
  if (na.getNumThreads() !== n) na.setNumThreads(n);
}

// A ready MultiHeadAttention with the case's weights, plus its inputs as package tensors.
export function makeMha(c) {
  const { B, Lq, Lk, E, H } = c.shape;
  const W = c.weights;
  const mha = new na.MultiHeadAttention({ embedDim: E, numHeads: H, seed: 1 });
  const t = (data, shape) => na.tensor(data, shape);
  mha.setWeights({
    wq: t(W.wq, [E, E]), bq: t(W.bq, [E]), wk: t(W.wk, [E, E]), bk: t(W.bk, [E]),
    wv: t(W.wv, [E, E]), bv: t(W.bv, [E]), wo: t(W.wo, [E, E]), bo: t(W.bo, [E]),
  });
  const query = t(c.query, [B, Lq, E]);
  const kv = c.memory ? t(c.memory, [B, Lk, E]) : query; // self-attention: key = value = query
  return {
    mha,
    forward: () => mha.forward(query, kv, kv).data,
    forwardAsync: async () => (await mha.forwardAsync(query, kv, kv)).data,
    forwardWithWeights: () => mha.forwardWithWeights(query, kv, kv).output.data,
  };
}

// sgemm GFLOP/s of an n×n×n product through the package's matmul (OpenBLAS) at `threads`.
export function sgemmGflops(n, threads, { reps = 3, budgetMs = 4000 } = {}) {
  setThreads(threads);
  const a = na.tensor(Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [n, n]);
  const b = na.tensor(Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5), [n, n]);
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
  // opts.mode: 'forward' (default) | 'forwardWithWeights' | 'forwardAsync'
  async prepare(c, threads, opts = {}) {
    setThreads(threads);
    const m = makeMha(c);
    const fn = m[opts.mode ?? 'forward'];
    return {
      before: () => setThreads(threads),
      run: fn,
      dispose: () => m.mha.dispose?.(),
    };
  },
};
