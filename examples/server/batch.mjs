// How a group of requests becomes one forwardAsync call, in either of two layouts:
//
//   packed  [ΣT, E] with sequenceLengths: every row is a real token, attention is
//           block-diagonal (each sequence sees only itself). Nothing is wasted.
//   padded  [B, Tmax, E] with keyLengths: sequences right-padded with zeros to the
//           longest; keyLengths hides the padding keys from every query, but the padded
//           *query* rows are still projected and attended (their output is discarded),
//           so B·Tmax − ΣT tokens of work are wasted. Which requests share a padded batch
//           is chosen to keep that waste bounded (selectPadded).

/**
 * Does this layer accept forward(x2d, null, null, { sequenceLengths })? Tried once at
 * start on a tiny input: a layer without it refuses the unknown option with a TypeError.
 * A layer that accepts it must also give the same rows as one call per sequence, or the
 * packed layout is not used. Returns { packed, reason }.
 */
export function detectPackedSequences(layer, { causal = false } = {}) {
  const E = layer.embedDim;
  const lengths = [2, 3];
  const total = lengths[0] + lengths[1];
  const x = new Float32Array(total * E);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37); // deterministic, not all equal
  const options = causal ? { sequenceLengths: Int32Array.from(lengths), causal } : { sequenceLengths: Int32Array.from(lengths) };
  let y;
  try {
    y = layer.forward({ data: x, shape: [total, E] }, null, null, options);
  } catch (err) {
    if (err instanceof TypeError && /unknown option/.test(err.message)) {
      return { packed: false, reason: 'this version of the layer has no sequenceLengths option' };
    }
    return { packed: false, reason: `sequenceLengths was refused: ${err.message}` };
  }
  const O = layer.outputDim;
  if (y?.shape?.length !== 2 || y.shape[0] !== total || y.shape[1] !== O) {
    return { packed: false, reason: `sequenceLengths gave shape [${y?.shape}], expected [${total}, ${O}]` };
  }
  let offset = 0;
  for (const T of lengths) {
    const one = layer.forward(
      { data: x.slice(offset * E, (offset + T) * E), shape: [T, E] },
      null,
      null,
      causal ? { causal } : undefined,
    );
    for (let i = 0; i < T * O; i++) {
      const a = one.data[i];
      const b = y.data[offset * O + i];
      if (!(Math.abs(a - b) <= 1e-4 * (1 + Math.abs(a)))) {
        return { packed: false, reason: 'sequenceLengths gave other values than one call per sequence' };
      }
    }
    offset += T;
  }
  return { packed: true, reason: 'the layer accepts sequenceLengths (packed, no padding)' };
}

/** Packed: the requests' rows one after the other. */
export function packInputs(items, E) {
  let total = 0;
  for (const it of items) total += it.T;
  const data = new Float32Array(total * E);
  const sequenceLengths = new Int32Array(items.length);
  let row = 0;
  items.forEach((it, i) => {
    data.set(it.x, row * E);
    sequenceLengths[i] = it.T;
    row += it.T;
  });
  return { input: { data, shape: [total, E] }, options: { sequenceLengths }, tokens: total };
}

/** Request i's rows of a packed output [ΣT, O]: views, no copy. */
export function splitPacked(output, items, O) {
  let row = 0;
  return items.map((it) => {
    const y = output.data.subarray(row * O, (row + it.T) * O);
    row += it.T;
    return y;
  });
}

/** Padded: [B, Tmax, E], zeros after each sequence, with keyLengths = each T. */
export function padInputs(items, E) {
  let Tmax = 0;
  for (const it of items) Tmax = Math.max(Tmax, it.T);
  const data = new Float32Array(items.length * Tmax * E); // zero-filled: padding is zeros
  const keyLengths = new Int32Array(items.length);
  items.forEach((it, b) => {
    data.set(it.x, b * Tmax * E);
    keyLengths[b] = it.T;
  });
  return { input: { data, shape: [items.length, Tmax, E] }, options: { keyLengths }, tokens: items.length * Tmax };
}

/** Request b's real rows of a padded output [B, Tmax, O]; the padded rows are dropped. */
export function splitPadded(output, items, O) {
  const Tmax = output.shape[1];
  return items.map((it, b) => output.data.subarray(b * Tmax * O, (b * Tmax + it.T) * O));
}

/**
 * The requests of the next padded batch: always the oldest (pending[0], so nothing
 * starves), then the waiting requests closest to it in length, as long as the batch
 * stays within maxBatch requests, tokenBudget padded tokens (B·Tmax) and padding of at
 * most padSlack × its real tokens. Sorting by length is what makes padding affordable:
 * T uniform in [16, 128] padded in arrival order wastes ~40% of a batch of 8.
 * Returns indices into pending.
 */
export function selectPadded(pending, { maxBatch, tokenBudget, padSlack }) {
  const order = pending.map((_, i) => i).sort((a, b) => pending[a].T - pending[b].T || a - b);
  const anchor = order.indexOf(0);
  let lo = anchor;
  let hi = anchor; // the batch is order[lo..hi], a run of neighbouring lengths
  let real = pending[0].T;
  const fits = (count, tMax, realTokens) => {
    const padded = count * tMax;
    return count <= maxBatch && padded <= tokenBudget && padded - realTokens <= padSlack * realTokens;
  };
  for (;;) {
    const down = lo > 0 ? pending[order[lo - 1]].T : -1;
    const up = hi + 1 < order.length ? pending[order[hi + 1]].T : -1;
    if (down < 0 && up < 0) break;
    const count = hi - lo + 1;
    const tMax = pending[order[hi]].T;
    // Take the neighbour that adds less padding: a shorter one pads itself up to Tmax, a
    // longer one pads every request already in the batch up to its length.
    const tryDown = down >= 0 && fits(count + 1, tMax, real + down);
    const tryUp = up >= 0 && fits(count + 1, up, real + up);
    if (tryDown && (!tryUp || tMax - down <= (up - tMax) * count)) {
      lo--;
      real += down;
    } else if (tryUp) {
      hi++;
      real += up;
    } else break;
  }
  return order.slice(lo, hi + 1).sort((a, b) => a - b);
}

/** The requests of the next packed batch: oldest first, within maxBatch and tokenBudget (the oldest always goes). */
export function selectPacked(pending, { maxBatch, tokenBudget }) {
  const picked = [0];
  let tokens = pending[0].T;
  for (let i = 1; i < pending.length && picked.length < maxBatch; i++) {
    if (tokens + pending[i].T > tokenBudget) break; // FIFO: no overtaking in packed mode
    picked.push(i);
    tokens += pending[i].T;
  }
  return picked;
}
