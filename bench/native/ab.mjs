#!/usr/bin/env node
// Two-build A/B: loads two builds of the addon into one process and alternates calls, so
// machine noise hits both alike. Prints medians and the ratio B/A (< 1: B is faster).
//
//   node bench/native/ab.mjs --a OLD.node --b NEW.node [--case sdpa|mha] [--shape S3]
//        [--threads 1] [--reps 15] [--causal] [--mask bool]   (M2 is causal without --causal)
//
//   sdpa: scaledDotProductAttention on [B, H, L, D] heads (B=1 H=16 L=2048 D=64 unless
//         --B/--H/--L/--D), with the same run's sgemm (matmul 1024³) for a GFLOP/s ceiling;
//         attention counted as 4·Lq·Lk·D flops per head (causal: about half).
//         (--no-gemm: skip it; it evicts the caches between calls)
//   mha:  MultiHeadAttention.forward of a bench shape (bench/lib/shapes.mjs) with random weights.
//   matmul: C[M, N] = A[M, K]·B[K, N] for each M of --M (default 1,2,4,8; K=2048, N=3072
//         unless --K/--N): the projections of a decoding step (few rows, a large weight).
// Each build is called with its own argument order (its argNames), so builds from before
// and after a change of the native boundary compare.
// NATIVE_ATTENTION_ISA applies to whichever build reads it (the fused one).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHAPES } from '../lib/shapes.mjs';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i < 0 ? def : argv[i + 1];
};
const flag = (name) => argv.includes(`--${name}`);
const A = require(path.resolve(opt('a', path.join(here, '../../build/Release/native_attention.node'))));
const Bm = require(path.resolve(opt('b', path.join(here, '../../build/Release/native_attention.node'))));
// A named arguments object in module m's order; arguments a build does not know are left out,
// those it knows and the object lacks take the defaults (options off).
const DEFAULTS = {
  rotaryDim: 0,
  rotaryInterleaved: false,
  rotaryInvFreq: null,
  slidingWindow: 0,
  cache: null,
  cacheRows: null,
  sequenceLengths: null,
};
const P = (m, entry, o) => m.argNames[entry].map((n) => (n in o ? o[n] : DEFAULTS[n]));
const threads = Number(opt('threads', 1));
const reps = Number(opt('reps', 15));
const kase = opt('case', 'sdpa');
const causal = flag('causal');
const maskKind = opt('mask', 'none');
for (const m of [A, Bm]) m.setNumThreads(threads);

let seed = 12345;
const rand = (n, mul = 1) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = ((seed / 4294967296) * 2 - 1) * mul;
  }
  return a;
};
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const now = () => Number(process.hrtime.bigint()) / 1e6;
const time = (fn) => {
  const t0 = now();
  fn();
  return now() - t0;
};

const runs = { a: [], b: [], gemm: [] };
let flops = 0;
let label = '';
let fa;
let fb;
let gemm = null;

if (kase === 'sdpa') {
  const B = Number(opt('B', 1)),
    H = Number(opt('H', 16)),
    L = Number(opt('L', 2048)),
    Lk = Number(opt('Lk', L));
  const D = Number(opt('D', 64));
  const q = rand(B * H * L * D),
    k = rand(B * H * Lk * D),
    v = rand(B * H * Lk * D);
  const oa = new Float32Array(B * H * L * D),
    ob = new Float32Array(B * H * L * D);
  let mask = null;
  let ms = [0, 0, 0, 0];
  if (maskKind === 'bool') {
    mask = new Uint8Array(B * Lk).map((_, i) => (i % 7 === 3 ? 0 : 1));
    ms = [Lk, 0, 0, 1];
  }
  const call = (m, o) =>
    m.scaledDotProductAttention(
      ...P(m, 'sdpa', {
        q,
        k,
        v,
        batch: B,
        heads: H,
        queryLength: L,
        keyLength: Lk,
        keyDim: D,
        valueDim: D,
        scale: 1 / Math.sqrt(D),
        mask,
        maskStrides: ms,
        causal,
        keyLengths: null,
        out: o,
        weightsOut: null,
      }),
    );
  fa = () => call(A, oa);
  fb = () => call(Bm, ob);
  flops = 4 * B * H * L * Lk * D * (causal ? 0.5 : 1);
  label = `sdpa B=${B} H=${H} Lq=${L} Lk=${Lk} D=${D}${causal ? ' causal' : ''}${mask ? ' bool mask' : ''}`;
  const n = 1024;
  const ga = rand(n * n),
    gb = rand(n * n),
    gc = new Float32Array(n * n);
  gemm = () => Bm.matmul(...P(Bm, 'matmul', { a: ga, b: gb, out: gc, M: n, N: n, K: n }));
  gemm.flops = 2 * n * n * n;
  fa();
  fb();
  let worst = 0,
    big = 0;
  for (let i = 0; i < oa.length; i++) {
    worst = Math.max(worst, Math.abs(oa[i] - ob[i]));
    big = Math.max(big, Math.abs(oa[i]));
  }
  console.log(`max |A - B| = ${worst.toExponential(2)} (max |A| ${big.toFixed(3)})`);
} else if (kase === 'matmul') {
  const K = Number(opt('K', 2048)),
    N = Number(opt('N', 3072));
  const Ms = opt('M', '1,2,4,8').split(',').map(Number);
  const w = rand(K * N);
  for (const M of Ms) {
    const a = rand(M * K),
      ca = new Float32Array(M * N),
      cb = new Float32Array(M * N);
    const ta = [],
      tb = [];
    const ma = () => A.matmul(...P(A, 'matmul', { a, b: w, out: ca, M, N, K }));
    const mb = () => Bm.matmul(...P(Bm, 'matmul', { a, b: w, out: cb, M, N, K }));
    ma();
    mb();
    for (let r = 0; r < reps; r++) {
      if (r % 2) {
        tb.push(time(mb));
        ta.push(time(ma));
      } else {
        ta.push(time(ma));
        tb.push(time(mb));
      }
    }
    const [xa, xb] = [median(ta), median(tb)];
    const gbs = (ms) => ((4 * K * N) / ms / 1e6).toFixed(1);
    console.log(
      `matmul M=${M} K=${K} N=${N}, ${threads} thread(s): A ${xa.toFixed(2)} ms (${gbs(xa)} GB/s of weight), B ${xb.toFixed(2)} ms (${gbs(xb)}), B/A = ${(xb / xa).toFixed(3)}`,
    );
  }
  process.exit(0);
} else {
  const name = opt('shape', 'S3');
  const s = SHAPES[name];
  const E = s.E,
    H = s.H,
    Dh = E / H;
  const make = (m) => {
    const layer = new m.MultiHeadAttention(
      ...P(m, 'layer', {
        embedDim: E,
        numHeads: H,
        numKvHeads: H,
        keyDim: Dh,
        valueDim: Dh,
        kdim: E,
        vdim: E,
        outputDim: E,
        useBias: true,
        scale: 1 / Math.sqrt(Dh),
      }),
    );
    const sizes = [E * E, E, E * E, E, E * E, E, E * E, E];
    ['wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo'].forEach((name, i) => {
      seed = 777 + i;
      layer.setWeight(...P(m, 'setWeight', { name, data: rand(sizes[i], 0.05) }));
    });
    return layer;
  };
  const la = make(A),
    lb = make(Bm);
  const x = rand(s.B * s.Lq * E);
  const mem = s.cross ? rand(s.B * s.Lk * E) : x;
  const oa = new Float32Array(s.B * s.Lq * E),
    ob = new Float32Array(s.B * s.Lq * E);
  // A padded batch (M1): key lengths spread evenly over [minLength, Lk], as bench/lib/data.mjs.
  const keyLengths =
    s.kind === 'padded'
      ? Int32Array.from({ length: s.B }, (_, b) => Math.round(s.minLength + ((s.Lk - s.minLength) * b) / Math.max(1, s.B - 1)))
      : null;
  const causalCall = causal || s.kind === 'causal'; // M2 is a causal shape
  const call = (m, layer, o) =>
    layer.forward(
      ...P(m, 'forward', {
        query: x,
        key: mem,
        value: mem,
        batch: s.B,
        queryLength: s.Lq,
        keyLength: s.Lk,
        mask: null,
        maskStrides: [0, 0, 0, 0],
        causal: causalCall,
        keyLengths,
        out: o,
        weightsOut: null,
      }),
    );
  fa = () => call(A, la, oa);
  fb = () => call(Bm, lb, ob);
  flops = 4 * s.B * s.Lq * E * E + 4 * s.B * s.Lk * E * E + 4 * s.B * s.Lq * s.Lk * E * (causalCall ? 0.5 : 1);
  label = `mha ${name} B=${s.B} Lq=${s.Lq} Lk=${s.Lk} E=${E} H=${H}${causalCall ? ' causal' : ''}${keyLengths ? ' key lengths' : ''}`;
  fa();
  fb();
}

for (let r = 0; r < reps; r++) {
  // Alternate the order too, so neither build always runs first.
  if (r % 2) {
    runs.b.push(time(fb));
    runs.a.push(time(fa));
  } else {
    runs.a.push(time(fa));
    runs.b.push(time(fb));
  }
  if (gemm && !flag('no-gemm')) runs.gemm.push(time(gemm));
}
const ma = median(runs.a),
  mb = median(runs.b);
const gf = (ms) => (flops / ms / 1e6).toFixed(1);
console.log(`${label}, ${threads} thread(s), ${reps} reps, isa(B)=${process.env.NATIVE_ATTENTION_ISA ?? 'default'}`);
console.log(`  A: median ${ma.toFixed(2)} ms (${gf(ma)} GFLOP/s)`);
console.log(`  B: median ${mb.toFixed(2)} ms (${gf(mb)} GFLOP/s)`);
console.log(`  B/A = ${(mb / ma).toFixed(3)}`);
if (gemm && runs.gemm.length) {
  const mg = median(runs.gemm);
  const g = gemm.flops / mg / 1e6;
  console.log(`  sgemm 1024³ (B's matmul): ${mg.toFixed(2)} ms = ${g.toFixed(1)} GFLOP/s (x${threads} thr)`);
  console.log(
    `  A at ${((flops / ma / 1e6 / g) * 100).toFixed(0)}% of sgemm, B at ${((flops / mb / 1e6 / g) * 100).toFixed(0)}%`,
  );
}
