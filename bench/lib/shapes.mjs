// Benchmark shapes. E = embed dim, H = heads, head size = E/H.
// Self-attention unless `cross` (then key = value = a separate memory sequence of length Lk).
// Server cases have a `kind` (lib/data.mjs builds their inputs, lib/reference.mjs checks them):
//   padded   M1: a right-padded batch; batch row b has keyLengths[b] real tokens
//   causal   M2: causal self-attention (Lq = Lk, so bottom-right = top-left alignment)
//   decode   D1, D8: one new token per sequence against a cache of `past` tokens; grouped-query
//            attention (Hkv key/value heads), no biases
//   prefill  P1: causal grouped-query self-attention with rotary embeddings (rotate-half), no biases
// One decode step: a new token per sequence attending to 1024 cached ones (D8: 8 sequences).
const D1_STEP = {
  kind: 'decode',
  B: 1,
  Lq: 1,
  past: 1024,
  Lk: 1025,
  E: 2048,
  H: 32,
  Hkv: 8,
  bias: false,
  what: 'decode step, GQA, 1024 cached',
};

export const SHAPES = {
  // T0 times batches of `inner` calls per repetition: a single microsecond call is below
  // the timer's resolution and dominated by the interleaved peers' cache pollution.
  T0: { B: 1, Lq: 4, Lk: 4, E: 16, H: 2, inner: 200, what: 'per-call overhead' },
  S1: { B: 1, Lq: 128, Lk: 128, E: 512, H: 8, what: 'small encoder layer' },
  S2: { B: 8, Lq: 256, Lk: 256, E: 768, H: 12, what: 'BERT-base batch' },
  S3: { B: 1, Lq: 2048, Lk: 2048, E: 1024, H: 16, what: 'long sequence' },
  S4: { B: 64, Lq: 32, Lk: 32, E: 256, H: 4, what: 'many short sequences' },
  S5: { B: 1, Lq: 1, Lk: 2048, E: 2048, H: 16, cross: true, what: 'cross-attention, 1 query' },
  M1: { kind: 'padded', B: 16, Lq: 256, Lk: 256, E: 768, H: 12, minLength: 64, what: 'padded batch, key lengths 64–256' },
  M2: { kind: 'causal', B: 1, Lq: 2048, Lk: 2048, E: 1024, H: 16, what: 'causal prefill' },
  P1: {
    kind: 'prefill',
    B: 1,
    Lq: 512,
    Lk: 512,
    E: 2048,
    H: 32,
    Hkv: 8,
    bias: false,
    rotaryBase: 10000,
    what: 'causal GQA prefill with rotary',
  },
  D1: D1_STEP,
  D8: { ...D1_STEP, B: 8, what: 'decode step ×8, GQA, 1024 cached' },
};
export const BASE_ORDER = ['T0', 'S1', 'S4', 'S2', 'S5', 'S3'];
export const SERVER_ORDER = ['M1', 'M2', 'P1', 'D1', 'D8'];
export const SHAPE_ORDER = [...BASE_ORDER, ...SERVER_ORDER];

export const kvDim = (s) => (s.Hkv ?? s.H) * (s.E / s.H);

// FLOPs of one forward: Q/out projections, K/V projections of the new tokens, scores + weighted
// sum over the (query, key) pairs computed. Padded batches count every padded position (the
// work a plain padded implementation does); causal cases count the visible pairs only.
export function flops(s) {
  const { B, Lq, Lk, E, H } = s;
  const D = E / H;
  const newKv = s.kind === 'decode' ? Lq : Lk;
  const pairs = s.kind === 'causal' || s.kind === 'prefill' ? (Lq * (Lq + 1)) / 2 : Lq * Lk;
  return 4 * B * Lq * E * E + 4 * B * newKv * E * kvDim(s) + 4 * B * H * D * pairs;
}

// Bytes a decode step must read at least: the four weights and the cached keys and values.
export function decodeBytes(s) {
  const D = s.E / s.H;
  return 4 * (2 * s.E * s.E + 2 * s.E * kvDim(s)) + 4 * 2 * s.B * (s.Hkv ?? s.H) * s.past * D;
}

export function describe(name) {
  const s = SHAPES[name];
  if (s.kind === 'decode') return `${name} B=${s.B} 1 new token, ${s.past} cached, E=${s.E} H=${s.H} KV heads=${s.Hkv}`;
  if (s.kind === 'prefill') return `${name} B=${s.B} L=${s.Lq} E=${s.E} H=${s.H} KV heads=${s.Hkv} causal rotary`;
  const seq = s.cross ? `Lq=${s.Lq} Lk=${s.Lk}` : `L=${s.Lq}`;
  const extra = s.cross
    ? ' cross'
    : s.kind === 'causal'
      ? ' causal'
      : s.kind === 'padded'
        ? ` key lengths ${s.minLength}–${s.Lk}`
        : '';
  return `${name} B=${s.B} ${seq} E=${s.E} H=${s.H}${extra}`;
}
