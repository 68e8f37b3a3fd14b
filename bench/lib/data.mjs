// Seeded inputs and weights shared by every peer. Values are never zero.
import { kvDim } from './shapes.mjs';

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Uniform in [-scale, -scale/64] U [scale/64, scale]: nonzero, both signs.
function fill(rand, n, scale) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const m = (1 / 64 + (63 / 64) * rand()) * scale;
    a[i] = rand() < 0.5 ? -m : m;
  }
  return a;
}

// Weights in y = x·W + b orientation: W is [E, E] row-major, columns head-major (h*D + d).
// Server cases (shape.kind): see makeServerCase.
export function makeCase(shape, seed = 1) {
  if (shape.kind) return makeServerCase(shape, seed);
  const { B, Lq, Lk, E, cross } = shape;
  const rand = mulberry32(seed * 7919 + E * 31 + Lq * 17 + Lk + B);
  const ws = 1 / Math.sqrt(E);
  const weights = {
    wq: fill(rand, E * E, ws),
    bq: fill(rand, E, 0.1),
    wk: fill(rand, E * E, ws),
    bk: fill(rand, E, 0.1),
    wv: fill(rand, E * E, ws),
    bv: fill(rand, E, 0.1),
    wo: fill(rand, E * E, ws),
    bo: fill(rand, E, 0.1),
  };
  const query = fill(rand, B * Lq * E, 1);
  // Self-attention: key = value = query. Cross: key = value = memory [B, Lk, E].
  const memory = cross ? fill(rand, B * Lk * E, 1) : null;
  return { shape, weights, query, memory };
}

// Server cases. wk, wv are [E, Ekv] with Ekv = Hkv·D (grouped-query attention: query head h uses
// key/value head floor(h / (H / Hkv))); no biases when shape.bias === false.
//   padded:  keyLengths [B], spread evenly over [minLength, Lk] and shuffled (seeded)
//   decode:  context [B, past, E] (the tokens already seen), pastKey/pastValue [B, Hkv, past, D]
//            = the context projected with wk/wv in float32 (filled in by `completeCase`, which
//            needs onnxruntime), query [B, 1, E] = the new token
//   prefill: rotary cos/sin tables [Lk, D/2] (rotate-half, base shape.rotaryBase)
export function makeServerCase(shape, seed = 1) {
  const { B, Lq, E, H } = shape;
  const D = E / H;
  const Ekv = kvDim(shape);
  const rand = mulberry32(seed * 104729 + E * 131 + Lq * 7 + B * 3 + (shape.past ?? 0) + (shape.Hkv ?? 0));
  const ws = 1 / Math.sqrt(E);
  const bias = shape.bias !== false;
  const weights = {
    wq: fill(rand, E * E, ws),
    wk: fill(rand, E * Ekv, ws),
    wv: fill(rand, E * Ekv, ws),
    wo: fill(rand, E * E, ws),
  };
  if (bias)
    Object.assign(weights, {
      bq: fill(rand, E, 0.1),
      bk: fill(rand, Ekv, 0.1),
      bv: fill(rand, Ekv, 0.1),
      bo: fill(rand, E, 0.1),
    });
  const c = { shape, weights, query: fill(rand, B * Lq * E, 1), memory: null };
  if (shape.kind === 'padded') {
    const lens = Array.from({ length: B }, (_, b) =>
      Math.round(shape.minLength + ((shape.Lk - shape.minLength) * b) / Math.max(1, B - 1)),
    );
    for (let i = B - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [lens[i], lens[j]] = [lens[j], lens[i]];
    }
    c.keyLengths = Int32Array.from(lens);
  }
  if (shape.kind === 'decode') c.context = fill(rand, B * shape.past * E, 1);
  if (shape.rotaryBase) {
    const half = D / 2;
    c.cos = new Float32Array(shape.Lk * half);
    c.sin = new Float32Array(shape.Lk * half);
    for (let p = 0; p < shape.Lk; p++) {
      for (let i = 0; i < half; i++) {
        const angle = p * shape.rotaryBase ** (-(2 * i) / D);
        c.cos[p * half + i] = Math.cos(angle);
        c.sin[p * half + i] = Math.sin(angle);
      }
    }
  }
  return c;
}

// Decode cases: the cache = the context projected with wk / wv (float32, by onnxruntime's MatMul),
// laid out [B, Hkv, past, D] as onnxruntime's GroupQueryAttention takes it. Other cases: no-op.
export async function completeCase(c) {
  const s = c.shape;
  if (s.kind !== 'decode' || c.pastKey) return c;
  const { projectRows } = await import('../onnx/project.mjs');
  const D = s.E / s.H,
    Hkv = s.Hkv,
    P = s.past,
    Ekv = kvDim(s);
  const toBnsh = (y) => {
    // [B, P, Hkv, D] -> [B, Hkv, P, D]
    const out = new Float32Array(y.length);
    for (let b = 0; b < s.B; b++) {
      for (let p = 0; p < P; p++) {
        for (let h = 0; h < Hkv; h++) {
          const src = ((b * P + p) * Hkv + h) * D;
          out.set(y.subarray(src, src + D), ((b * Hkv + h) * P + p) * D);
        }
      }
    }
    return out;
  };
  c.pastKey = toBnsh(await projectRows(c.context, s.B * P, s.E, c.weights.wk, Ekv));
  c.pastValue = toBnsh(await projectRows(c.context, s.B * P, s.E, c.weights.wv, Ekv));
  return c;
}
