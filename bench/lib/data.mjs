// Seeded inputs and weights shared by every peer. Values are never zero.
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
export function makeCase(shape, seed = 1) {
  const { B, Lq, Lk, E, cross } = shape;
  const rand = mulberry32(seed * 7919 + E * 31 + Lq * 17 + Lk + B);
  const ws = 1 / Math.sqrt(E);
  const weights = {
    wq: fill(rand, E * E, ws), bq: fill(rand, E, 0.1),
    wk: fill(rand, E * E, ws), bk: fill(rand, E, 0.1),
    wv: fill(rand, E * E, ws), bv: fill(rand, E, 0.1),
    wo: fill(rand, E * E, ws), bo: fill(rand, E, 0.1),
  };
  const query = fill(rand, B * Lq * E, 1);
  // Self-attention: key = value = query. Cross: key = value = memory [B, Lk, E].
  const memory = cross ? fill(rand, B * Lk * E, 1) : null;
  return { shape, weights, query, memory };
}
