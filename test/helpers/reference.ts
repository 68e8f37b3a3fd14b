// A plain float64 reference for the engine, written from the definitions and sharing no
// code with lib/ or native/: naive loops over Float64Array, its own broadcasting, its own
// PRNG. Slow (O(n³)) but obviously right; keep the sizes it is given moderate.
//
// Layouts (row-major, contiguous):
//   SDPA     q [B, H, Lq, Dk], k [B, H, Lk, Dk], v [B, H, Lk, Dv] → out [B, H, Lq, Dv]
//   MHA      query [B, Lq, E], key [B, Lk, kdim], value [B, Lk, vdim] → out [B, Lq, O]
//   weights  y = x·W + b; wq [E, H·Dk], wk [kdim, H·Dk], wv [vdim, H·Dv], wo [H·Dv, O];
//            head-major columns: column h·D + d belongs to head h.

type Numbers = ArrayLike<number>;

export interface RefTensor {
  data: Numbers;
  shape: number[];
}

export interface RefMask {
  /** Uint8Array: 1 = may attend, 0 = masked. Float32Array: added to the scaled scores. */
  data: Uint8Array | Float32Array;
  shape: number[];
}

export interface RefAttentionOptions {
  mask?: RefMask | null;
  /** Query i sees key j iff j <= i + (Lk - Lq) (bottom-right aligned). */
  causal?: boolean;
  /** [B]: only keys j < keyLengths[b] are real. */
  keyLengths?: Numbers | null;
  /** With causal: query i also sees no key j <= i + (Lk - Lq) - window. */
  window?: number | null;
}

export interface RefSdpaOptions extends RefAttentionOptions {
  /** Default 1/√Dk. */
  scale?: number;
}

export interface SdpaShapes {
  B: number;
  H: number;
  Lq: number;
  Lk: number;
  Dk: number;
  Dv: number;
}

export interface RefResult {
  /** [B, H, Lq, Dv] for SDPA, [B, Lq, O] (or [B, rows, O]) for MHA. */
  output: Float64Array;
  /** [B, H, Lq, Lk] attention probabilities (for MHA with `rows`: [B, H, rows, Lk]). */
  probs: Float64Array;
}

// ---------------------------------------------------------------------------------------
// Broadcasting

/**
 * numpy broadcasting of `shape` to the 4-d `target`: returns the flat index in the mask of
 * element (b, h, i, j). Throws when `shape` does not broadcast.
 */
export function broadcastIndexer(shape: readonly number[], target: readonly [number, number, number, number]) {
  if (shape.length > 4) throw new Error(`mask rank ${shape.length} > 4`);
  const full = [...new Array(4 - shape.length).fill(1), ...shape];
  const strides = [0, 0, 0, 0];
  let s = 1;
  for (let a = 3; a >= 0; a--) {
    const d = full[a]!;
    if (d !== 1 && d !== target[a]) throw new Error(`mask shape [${shape}] does not broadcast to [${target}]`);
    strides[a] = d === 1 ? 0 : s;
    s *= d;
  }
  const [sb, sh, sq, sk] = strides as [number, number, number, number];
  return (b: number, h: number, i: number, j: number) => b * sb + h * sh + i * sq + j * sk;
}

// ---------------------------------------------------------------------------------------
// Scaled dot-product attention

/**
 * The core on float64 heads. `rows` (default all) selects the query rows computed; the
 * outputs then have `rows.length` rows per (b, h).
 */
function sdpaCore(
  q: Numbers,
  k: Numbers,
  v: Numbers,
  s: SdpaShapes,
  options: RefSdpaOptions,
  rows?: readonly number[],
): RefResult {
  const { B, H, Lq, Lk, Dk, Dv } = s;
  const scale = options.scale ?? 1 / Math.sqrt(Dk);
  const qRows = rows ?? Array.from({ length: Lq }, (_, i) => i);
  const R = qRows.length;
  const mask = options.mask ?? null;
  const maskAt = mask ? broadcastIndexer(mask.shape, [B, H, Lq, Lk]) : null;
  const isBool = mask?.data instanceof Uint8Array;
  const output = new Float64Array(B * H * R * Dv);
  const probs = new Float64Array(B * H * R * Lk);
  const scores = new Float64Array(Lk);
  const visible = new Uint8Array(Lk);

  for (let b = 0; b < B; b++) {
    const keyLen = options.keyLengths ? options.keyLengths[b]! : Lk;
    for (let h = 0; h < H; h++) {
      const qBase = (b * H + h) * Lq * Dk;
      const kBase = (b * H + h) * Lk * Dk;
      const vBase = (b * H + h) * Lk * Dv;
      for (let r = 0; r < R; r++) {
        const i = qRows[r]!;
        let max = -Infinity;
        for (let j = 0; j < Lk; j++) {
          let ok = j < keyLen;
          if (options.causal && j > i + (Lk - Lq)) ok = false;
          if (options.causal && options.window && j <= i + (Lk - Lq) - options.window) ok = false;
          let score = 0;
          if (ok) {
            for (let d = 0; d < Dk; d++) score += q[qBase + i * Dk + d]! * k[kBase + j * Dk + d]!;
            score *= scale;
            if (mask) {
              const m = mask.data[maskAt!(b, h, i, j)]!;
              if (isBool) ok = m !== 0;
              else score += m;
            }
          }
          if (ok && score === -Infinity) ok = false; // additive -inf masks too
          visible[j] = ok ? 1 : 0;
          scores[j] = score;
          if (ok && score > max) max = score;
        }
        const pBase = ((b * H + h) * R + r) * Lk;
        const oBase = ((b * H + h) * R + r) * Dv;
        if (max === -Infinity) continue; // nothing visible: zero probabilities, zero output
        let sum = 0;
        for (let j = 0; j < Lk; j++) {
          const e = visible[j] ? Math.exp(scores[j]! - max) : 0;
          probs[pBase + j] = e;
          sum += e;
        }
        for (let j = 0; j < Lk; j++) probs[pBase + j]! /= sum;
        for (let j = 0; j < Lk; j++) {
          const p = probs[pBase + j]!;
          if (p === 0) continue;
          for (let d = 0; d < Dv; d++) output[oBase + d]! += p * v[vBase + j * Dv + d]!;
        }
      }
    }
  }
  return { output, probs };
}

/** softmax(scale · q·kᵀ + mask) · v over heads laid out [B, H, L, D], in float64. */
export function referenceSdpa(q: Numbers, k: Numbers, v: Numbers, shapes: SdpaShapes, options: RefSdpaOptions = {}): RefResult {
  const { B, H, Lq, Lk, Dk, Dv } = shapes;
  if (q.length !== B * H * Lq * Dk || k.length !== B * H * Lk * Dk || v.length !== B * H * Lk * Dv) {
    throw new Error('referenceSdpa: data lengths do not match the shapes');
  }
  return sdpaCore(q, k, v, shapes, options);
}

// ---------------------------------------------------------------------------------------
// Multi-head attention

export interface RefMhaConfig {
  embedDim: number;
  numHeads: number;
  /** Key/value heads (default numHeads): query head h reads key/value head floor(h / (H / Hkv)). */
  numKvHeads?: number;
  keyDim: number;
  valueDim: number;
  kdim: number;
  vdim: number;
  outputDim: number;
  useBias: boolean;
  scale: number;
  /**
   * Rotary embedding of the projected queries and keys: pairs (i, i + dim/2) of each head's
   * first `dim` features, or (2i, 2i + 1) when interleaved, turned by position · base^(-2i/dim).
   * Keys at positions 0, 1, …; queries at i + (Lk − Lq).
   */
  rotary?: { dim: number; base: number; interleaved: boolean } | null;
}

/** Rotates rows [B, H, L, D] in place; row l of every (b, h) at position l + offset. */
function rotate(
  x: Float64Array,
  B: number,
  H: number,
  L: number,
  D: number,
  offset: number,
  r: NonNullable<RefMhaConfig['rotary']>,
) {
  const half = r.dim / 2;
  for (let bh = 0; bh < B * H; bh++)
    for (let l = 0; l < L; l++) {
      const row = (bh * L + l) * D;
      for (let i = 0; i < half; i++) {
        const angle = (l + offset) * r.base ** ((-2 * i) / r.dim);
        const [a, b] = r.interleaved ? [row + 2 * i, row + 2 * i + 1] : [row + i, row + i + half];
        const xa = x[a]!;
        const xb = x[b]!;
        x[a] = xa * Math.cos(angle) - xb * Math.sin(angle);
        x[b] = xb * Math.cos(angle) + xa * Math.sin(angle);
      }
    }
}

export type RefWeights = Partial<Record<'wq' | 'bq' | 'wk' | 'bk' | 'wv' | 'bv' | 'wo' | 'bo', RefTensor>>;

export interface RefMhaOptions extends RefAttentionOptions {
  /** Compute only these query rows (of every batch row): output [B, rows.length, O]. */
  rows?: readonly number[];
}

/** y [N, out] = x [N, in] · w [in, out] + bias [out], float64 (dot products over a transposed copy of w). */
export function linear(x: Numbers, N: number, inDim: number, w: Numbers, outDim: number, bias: Numbers | null): Float64Array {
  if (x.length < N * inDim || w.length !== inDim * outDim) throw new Error('linear: bad sizes');
  const wt = new Float64Array(inDim * outDim);
  for (let e = 0; e < inDim; e++) for (let c = 0; c < outDim; c++) wt[c * inDim + e] = w[e * outDim + c]!;
  const row = new Float64Array(inDim);
  const y = new Float64Array(N * outDim);
  for (let n = 0; n < N; n++) {
    for (let e = 0; e < inDim; e++) row[e] = x[n * inDim + e]!;
    for (let c = 0; c < outDim; c++) {
      const o = c * inDim;
      let s = 0;
      for (let e = 0; e < inDim; e++) s += row[e]! * wt[o + e]!;
      y[n * outDim + c] = bias ? s + bias[c]! : s;
    }
  }
  return y;
}

/** [B, L, H·D] (head-major columns) → [B, H, L, D]. */
function splitHeads(x: Float64Array, B: number, L: number, H: number, D: number): Float64Array {
  const out = new Float64Array(B * H * L * D);
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++)
      for (let h = 0; h < H; h++)
        for (let d = 0; d < D; d++) out[((b * H + h) * L + l) * D + d] = x[(b * L + l) * H * D + h * D + d]!;
  return out;
}

/** [B, H, L, D] → [B, L, H·D]. */
function mergeHeads(x: Float64Array, B: number, L: number, H: number, D: number): Float64Array {
  const out = new Float64Array(B * L * H * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let l = 0; l < L; l++)
        for (let d = 0; d < D; d++) out[(b * L + l) * H * D + h * D + d] = x[((b * H + h) * L + l) * D + d]!;
  return out;
}

/** [B, Hkv, ...] → [B, Hkv·G, ...] with each head repeated G times (repeat_interleave). */
function repeatHeads(x: Float64Array, B: number, Hkv: number, G: number, plane: number): Float64Array {
  if (G === 1) return x;
  const out = new Float64Array(B * Hkv * G * plane);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hkv * G; h++)
      out.set(
        x.subarray((b * Hkv + Math.floor(h / G)) * plane, (b * Hkv + Math.floor(h / G) + 1) * plane),
        (b * Hkv * G + h) * plane,
      );
  return out;
}

/**
 * Multi-head attention in float64: project, split heads, SDPA, merge, output projection.
 * query [B, Lq, E] or [Lq, E]; key/value default to query/key (like the layer).
 * The output is always laid out batched ([B, Lq, O], B = 1 when unbatched).
 */
export function referenceMha(
  weights: RefWeights,
  config: RefMhaConfig,
  query: RefTensor,
  key?: RefTensor | null,
  value?: RefTensor | null,
  options: RefMhaOptions = {},
): RefResult {
  const { embedDim: E, numHeads: H, keyDim: Dk, valueDim: Dv, kdim, vdim, outputDim: O, useBias, scale } = config;
  const Hkv = config.numKvHeads ?? H;
  const k = key ?? query;
  const v = value ?? k;
  const batched = query.shape.length === 3;
  const B = batched ? query.shape[0]! : 1;
  const Lq = query.shape[query.shape.length - 2]!;
  const Lk = k.shape[k.shape.length - 2]!;
  if (query.shape[query.shape.length - 1] !== E || k.shape[k.shape.length - 1] !== kdim || v.shape[v.shape.length - 1] !== vdim) {
    throw new Error('referenceMha: feature sizes do not match the config');
  }
  const w = (n: keyof RefWeights): Numbers => {
    const t = weights[n];
    if (!t) throw new Error(`referenceMha: missing weight ${n}`);
    return t.data;
  };
  const bias = (n: 'bq' | 'bk' | 'bv' | 'bo'): Numbers | null => (useBias ? w(n) : null);

  const rows = options.rows;
  const R = rows ? rows.length : Lq;
  // Only the requested query rows are projected.
  let qIn: Numbers = query.data;
  if (rows) {
    const sel = new Float64Array(B * R * E);
    for (let b = 0; b < B; b++)
      for (let r = 0; r < R; r++) for (let e = 0; e < E; e++) sel[(b * R + r) * E + e] = query.data[(b * Lq + rows[r]!) * E + e]!;
    qIn = sel;
  }
  const qp = linear(qIn, B * R, E, w('wq'), H * Dk, bias('bq'));
  const kp = linear(k.data, B * Lk, kdim, w('wk'), Hkv * Dk, bias('bk'));
  const vp = linear(v.data, B * Lk, vdim, w('wv'), Hkv * Dv, bias('bv'));

  // Full-length query heads with only the selected rows filled: sdpaCore reads just those.
  const qh = new Float64Array(B * H * Lq * Dk);
  const qSplit = splitHeads(qp, B, R, H, Dk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let r = 0; r < R; r++) {
        const i = rows ? rows[r]! : r;
        for (let d = 0; d < Dk; d++) qh[((b * H + h) * Lq + i) * Dk + d] = qSplit[((b * H + h) * R + r) * Dk + d]!;
      }
  const kSplit = splitHeads(kp, B, Lk, Hkv, Dk);
  if (config.rotary) {
    rotate(qh, B, H, Lq, Dk, Lk - Lq, config.rotary); // rows not selected are rotated too (unused)
    rotate(kSplit, B, Hkv, Lk, Dk, 0, config.rotary);
  }
  // Grouped-query heads: repeat each key/value head for its H / Hkv query heads.
  const kh = repeatHeads(kSplit, B, Hkv, H / Hkv, Lk * Dk);
  const vh = repeatHeads(splitHeads(vp, B, Lk, Hkv, Dv), B, Hkv, H / Hkv, Lk * Dv);
  const att = sdpaCore(qh, kh, vh, { B, H, Lq, Lk, Dk, Dv }, { ...options, scale }, rows);
  const merged = mergeHeads(att.output, B, R, H, Dv);
  const output = linear(merged, B * R, H * Dv, w('wo'), O, bias('bo'));
  return { output, probs: att.probs };
}

/** Mean over heads of [B, H, Lq, Lk] probabilities → [B, Lq, Lk]. */
export function averageHeads(probs: Float64Array, B: number, H: number, Lq: number, Lk: number): Float64Array {
  const plane = Lq * Lk;
  const out = new Float64Array(B * plane);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) for (let i = 0; i < plane; i++) out[b * plane + i]! += probs[(b * H + h) * plane + i]! / H;
  return out;
}

/** Plain float64 matrix product: a [M, K] · b [K, N] → [M, N]. */
export function referenceMatmul(a: Numbers, b: Numbers, M: number, N: number, K: number): Float64Array {
  return linear(a, M, K, b, N, null);
}

// ---------------------------------------------------------------------------------------
// Error measure

/** ‖a − ref‖₂ / ‖ref‖₂ (the plain ‖a‖₂ when ref is all zeros). NaN anywhere gives Infinity. */
export function relErr(a: Numbers, ref: Numbers): number {
  if (a.length !== ref.length) throw new Error(`relErr: lengths differ (${a.length} vs ${ref.length})`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = ref[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) return Infinity;
    num += (x - y) * (x - y);
    den += y * y;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

// ---------------------------------------------------------------------------------------
// Seeded random data

/** splitmix32: a seeded PRNG of uniform floats in [0, 1). (Deliberately not lib's mulberry32.) */
export function rng(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

/** Value ranges the tests sweep: inputs uniform in ±range. */
export const RANGES = [1, 10, 0.05] as const;

/**
 * A Float32Array tensor of `shape`, uniform in ±range and never zero (|x| >= range/1000),
 * so an unwritten or skipped cell cannot hide behind a zero.
 */
export function randomTensor(shape: readonly number[], seed: number, range = 1): { data: Float32Array; shape: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const next = rng(seed);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = next();
    const sign = next() < 0.5 ? -1 : 1;
    data[i] = sign * range * (0.001 + 0.999 * u);
  }
  return { data, shape: [...shape] };
}

/** A 0/1 Uint8Array mask of `shape`, each element 1 with probability pKeep. */
export function randomBoolMask(shape: readonly number[], seed: number, pKeep = 0.7): { data: Uint8Array; shape: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const next = rng(seed);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = next() < pKeep ? 1 : 0;
  return { data, shape: [...shape] };
}

/**
 * A Float32Array additive mask of `shape`: -Infinity with probability pMasked, otherwise a
 * finite bias uniform in ±spread (never exactly zero).
 */
export function randomAdditiveMask(
  shape: readonly number[],
  seed: number,
  pMasked = 0.3,
  spread = 2,
): { data: Float32Array; shape: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const next = rng(seed);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const masked = next() < pMasked;
    const u = next();
    data[i] = masked ? -Infinity : (2 * u - 1) * spread || spread / 7;
  }
  return { data, shape: [...shape] };
}

/** A random mask of either kind. */
export function randomMask(kind: 'bool' | 'additive', shape: readonly number[], seed: number, pMasked = 0.3) {
  return kind === 'bool' ? randomBoolMask(shape, seed, 1 - pMasked) : randomAdditiveMask(shape, seed, pMasked);
}

/**
 * Masks out every key of the given query rows of a [B, H, Lq, Lk]-shaped mask (in place):
 * those rows then have nothing to attend to.
 */
export function maskRowsFully(
  mask: { data: Uint8Array | Float32Array; shape: number[] },
  rows: readonly [b: number, h: number, i: number][],
): void {
  const [, H, Lq, Lk] = mask.shape as [number, number, number, number];
  const off = mask.data instanceof Uint8Array ? 0 : -Infinity;
  for (const [b, h, i] of rows) mask.data.fill(off as never, ((b * H + h) * Lq + i) * Lk, ((b * H + h) * Lq + i + 1) * Lk);
}

/** Random keyLengths in [0, Lk] for B batch rows that include 0 and Lk when B allows. */
export function randomKeyLengths(B: number, Lk: number, seed: number): Int32Array {
  const next = rng(seed);
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) out[b] = Math.floor(next() * (Lk + 1));
  if (B >= 1) out[0] = 0;
  if (B >= 2) out[B - 1] = Lk;
  if (B >= 3) out[1] = Math.max(1, Math.min(Lk, out[1]!));
  return out;
}
