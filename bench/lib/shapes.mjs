// Benchmark shapes. E = embed dim, H = heads, head size = E/H.
// Self-attention unless `cross` (then key = value = a separate memory sequence of length Lk).
export const SHAPES = {
  // T0 times batches of `inner` calls per repetition: a single microsecond call is below
  // the timer's resolution and dominated by the interleaved peers' cache pollution.
  T0: { B: 1, Lq: 4, Lk: 4, E: 16, H: 2, inner: 200, what: 'per-call overhead' },
  S1: { B: 1, Lq: 128, Lk: 128, E: 512, H: 8, what: 'small encoder layer' },
  S2: { B: 8, Lq: 256, Lk: 256, E: 768, H: 12, what: 'BERT-base batch' },
  S3: { B: 1, Lq: 2048, Lk: 2048, E: 1024, H: 16, what: 'long sequence' },
  S4: { B: 64, Lq: 32, Lk: 32, E: 256, H: 4, what: 'many short sequences' },
  S5: { B: 1, Lq: 1, Lk: 2048, E: 2048, H: 16, cross: true, what: 'cross-attention, 1 query' },
};
export const SHAPE_ORDER = ['T0', 'S1', 'S4', 'S2', 'S5', 'S3'];

// FLOPs of one forward: Q/out projections, K/V projections, scores + weighted sum.
export function flops({ B, Lq, Lk, E }) {
  return 4 * B * Lq * E * E + 4 * B * Lk * E * E + 4 * B * Lq * Lk * E;
}

export function describe(name) {
  const s = SHAPES[name];
  const seq = s.cross ? `Lq=${s.Lq} Lk=${s.Lk}` : `L=${s.Lq}`;
  return `${name} B=${s.B} ${seq} E=${s.E} H=${s.H}${s.cross ? ' cross' : ''}`;
}
