// Float64 multi-head attention reference (plain JS), and the error metric.
function linear(x, rows, E, w, b) {
  // y[rows, E] = x[rows, E] · w[E, E] + b
  const y = new Float64Array(rows * E);
  for (let r = 0; r < rows; r++) {
    const yr = r * E;
    for (let j = 0; j < E; j++) y[yr + j] = b[j];
    for (let k = 0; k < E; k++) {
      const xv = x[r * E + k];
      const wk = k * E;
      for (let j = 0; j < E; j++) y[yr + j] += xv * w[wk + j];
    }
  }
  return y;
}

export function referenceForward(c) {
  const { B, Lq, Lk, E, H } = c.shape;
  const D = E / H;
  const W = c.weights;
  const kvIn = c.memory ?? c.query;
  const q = linear(c.query, B * Lq, E, W.wq, W.bq);
  const k = linear(kvIn, B * Lk, E, W.wk, W.bk);
  const v = linear(kvIn, B * Lk, E, W.wv, W.bv);
  const ctx = new Float64Array(B * Lq * E);
  const s = new Float64Array(Lk);
  const scale = 1 / Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Lq; i++) {
        const qo = (b * Lq + i) * E + h * D;
        let mx = -Infinity;
        for (let j = 0; j < Lk; j++) {
          const ko = (b * Lk + j) * E + h * D;
          let acc = 0;
          for (let d = 0; d < D; d++) acc += q[qo + d] * k[ko + d];
          s[j] = acc * scale;
          if (s[j] > mx) mx = s[j];
        }
        let sum = 0;
        for (let j = 0; j < Lk; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
        for (let j = 0; j < Lk; j++) {
          const p = s[j] / sum;
          const vo = (b * Lk + j) * E + h * D;
          for (let d = 0; d < D; d++) ctx[qo + d] += p * v[vo + d];
        }
      }
    }
  }
  return linear(ctx, B * Lq, E, W.wo, W.bo);
}

// ‖out − ref‖ / ‖ref‖ (computed in float64).
export function relError(out, ref) {
  if (!out || out.length !== ref.length) return Infinity;
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return Math.sqrt(num) / Math.sqrt(den);
}
