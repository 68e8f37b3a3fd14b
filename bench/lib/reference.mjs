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
        for (let j = 0; j < Lk; j++) {
          s[j] = Math.exp(s[j] - mx);
          sum += s[j];
        }
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
  let num = 0,
    den = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return Math.sqrt(num) / Math.sqrt(den);
}

// ---------- server cases (shape.kind) ----------
// Float64 reference on a subset of output rows (the whole output would take minutes in JS):
// returns { rows: [[b, i], ...], values: Float64Array(rows.length * E) }. Every visible key of a
// checked row is projected in float64; the decode cases' cached keys/values are the float32 cache
// the peers get (the state they are given), their new token is projected here.
function checkedRows(c) {
  const s = c.shape;
  const spread = (L, n, extra = []) =>
    [...new Set([...Array.from({ length: n }, (_, k) => Math.round(((L - 1) * k) / (n - 1))), ...extra])]
      .filter((i) => i >= 0 && i < L)
      .sort((a, b) => a - b);
  if (s.kind === 'decode') return Array.from({ length: s.B }, (_, b) => [b, 0]);
  if (s.kind === 'padded') {
    const lens = [...c.keyLengths];
    const order = lens.map((l, b) => [l, b]).sort((x, y) => x[0] - y[0]);
    const batches = [...new Set([order[0][1], order[order.length >> 1][1], order[order.length - 1][1]])];
    // per batch row: real and padded query rows, around the boundary too
    return batches.flatMap((b) => spread(s.Lq, 12, [lens[b] - 1, lens[b]]).map((i) => [b, i]));
  }
  return spread(s.Lq, 16, [1, 2]).map((i) => [0, i]);
}

function rowTimesW(x, xo, K, w, N, b) {
  // y[N] = x[xo .. xo+K] · w[K, N] (+ b)
  const y = new Float64Array(N);
  if (b) for (let j = 0; j < N; j++) y[j] = b[j];
  for (let k = 0; k < K; k++) {
    const xv = x[xo + k];
    const wk = k * N;
    for (let j = 0; j < N; j++) y[j] += xv * w[wk + j];
  }
  return y;
}

function rotate(v, H, D, pos, c) {
  // rotate-half on each head of v [H*D] at position pos, in place
  const half = D / 2;
  const base = c.shape.rotaryBase;
  for (let h = 0; h < H; h++) {
    const o = h * D;
    for (let i = 0; i < half; i++) {
      const a = pos * base ** (-(2 * i) / D);
      const cs = Math.cos(a),
        sn = Math.sin(a);
      const x1 = v[o + i],
        x2 = v[o + half + i];
      v[o + i] = x1 * cs - x2 * sn;
      v[o + half + i] = x2 * cs + x1 * sn;
    }
  }
}

export function referenceServer(c) {
  const s = c.shape;
  const { Lq, Lk, E, H } = s;
  const D = E / H;
  const Hkv = s.Hkv ?? H;
  const Ekv = Hkv * D;
  const group = H / Hkv;
  const W = c.weights;
  const rows = checkedRows(c);
  const values = new Float64Array(rows.length * E);
  const scale = 1 / Math.sqrt(D);
  const offset = Lk - Lq; // bottom-right causal alignment / position of query row 0
  const kvCache = new Map(); // b -> { k: Float64Array[] per key, v }
  const keysFor = (b, n) => {
    let e = kvCache.get(b);
    if (!e) {
      e = { k: [], v: [] };
      kvCache.set(b, e);
    }
    for (let j = e.k.length; j < n; j++) {
      let kj, vj;
      if (s.kind === 'decode' && j < s.past) {
        kj = new Float64Array(Ekv);
        vj = new Float64Array(Ekv);
        for (let g = 0; g < Hkv; g++) {
          const src = ((b * Hkv + g) * s.past + j) * D;
          for (let d = 0; d < D; d++) {
            kj[g * D + d] = c.pastKey[src + d];
            vj[g * D + d] = c.pastValue[src + d];
          }
        }
      } else {
        const t = s.kind === 'decode' ? j - s.past : j; // token index in the query input
        const xo = (b * Lq + t) * E;
        kj = rowTimesW(c.query, xo, E, W.wk, Ekv, W.bk);
        vj = rowTimesW(c.query, xo, E, W.wv, Ekv, W.bv);
        if (s.rotaryBase) rotate(kj, Hkv, D, j, c);
      }
      e.k.push(kj);
      e.v.push(vj);
    }
    return e;
  };
  rows.forEach(([b, i], r) => {
    const visible = s.kind === 'padded' ? c.keyLengths[b] : s.kind === 'decode' ? Lk : i + offset + 1;
    const { k, v } = keysFor(b, visible);
    const q = rowTimesW(c.query, (b * Lq + i) * E, E, W.wq, E, W.bq);
    if (s.rotaryBase) rotate(q, H, D, i + offset, c);
    const ctx = new Float64Array(E);
    const sc = new Float64Array(visible);
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group) * D;
      let mx = -Infinity;
      for (let j = 0; j < visible; j++) {
        let acc = 0;
        for (let d = 0; d < D; d++) acc += q[h * D + d] * k[j][g + d];
        sc[j] = acc * scale;
        if (sc[j] > mx) mx = sc[j];
      }
      let sum = 0;
      for (let j = 0; j < visible; j++) {
        sc[j] = Math.exp(sc[j] - mx);
        sum += sc[j];
      }
      for (let j = 0; j < visible; j++) {
        const p = sc[j] / sum;
        for (let d = 0; d < D; d++) ctx[h * D + d] += p * v[j][g + d];
      }
    }
    values.set(rowTimesW(ctx, 0, E, W.wo, E, W.bo), r * E);
  });
  return { rows, values };
}

// The checked rows of a peer's [B, Lq, E] output, in the reference's order.
export function pickRows(out, rows, { Lq, E }) {
  const y = new Float32Array(rows.length * E);
  for (const [r, [b, i]] of rows.entries()) y.set(out.subarray((b * Lq + i) * E, (b * Lq + i + 1) * E), r * E);
  return y;
}
