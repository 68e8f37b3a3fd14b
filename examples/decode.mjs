// Decoding with a key/value cache: a small LLaMA-shaped attention layer (E=256, 8 query
// heads sharing 2 key/value heads, rotary embeddings) prefills a prompt, then generates
// greedily one token per step over a toy vocabulary of random embeddings; a speculative
// draft of 4 tokens is checked in one call and 2 are kept (truncate rolls the rest back).
// Then one full causal forward over the kept tokens must give every row the steps gave,
// and a timing line: the median time of one step.
import { MultiHeadAttention, tensor, getNumThreads } from '../dist/index.js';

function random(n, seed) {
  let s = seed >>> 0;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1; // uniform in [-1, 1)
  }
  return data;
}

const E = 256,
  vocab = 64,
  promptLength = 24,
  steps = 48,
  maxLength = 128;
const layer = new MultiHeadAttention({
  embedDim: E,
  numHeads: 8,
  numKvHeads: 2, // grouped-query attention: query heads 0-3 read key/value head 0, 4-7 head 1
  rotary: { base: 10000 }, // rotate-half over the whole head (keyDim 32)
  useBias: false,
  seed: 7,
});
const embeddings = random(vocab * E, 1); // [vocab, E]: token t's embedding is row t
const embed = (token) => embeddings.subarray(token * E, (token + 1) * E);

/** Greedy pick: the token whose embedding has the largest dot product with the output row. */
function greedy(row) {
  let best = 0,
    bestScore = -Infinity;
  for (let t = 0; t < vocab; t++) {
    let s = 0;
    for (let i = 0; i < E; i++) s += row[i] * embeddings[t * E + i];
    if (s > bestScore) [best, bestScore] = [t, s];
  }
  return best;
}

const cache = layer.createCache({ batch: 1, maxLength });
const tokens = []; // the tokens the cache holds, in order
const outputs = []; // the layer's output row for each of them
/** The tokens' embeddings, [1, n, E]. */
function embedAll(list) {
  const x = new Float32Array(list.length * E);
  for (let i = 0; i < list.length; i++) x.set(embed(list[i]), i * E);
  return tensor(x, [1, list.length, E]);
}

/** One call: appends the tokens to the cache and keeps their output rows. */
function append(newTokens) {
  const y = layer.forward(embedAll(newTokens), null, null, { cache });
  for (let i = 0; i < newTokens.length; i++) outputs.push(y.data.slice(i * E, (i + 1) * E));
  tokens.push(...newTokens);
  return y;
}

// Prefill: the whole prompt in one call (causal over itself), then decode one token a step.
const prompt = Array.from(random(promptLength, 2), (v) => Math.floor(((v + 1) / 2) * vocab));
append(prompt);
const stepMs = [];
function decode(n) {
  for (let i = 0; i < n; i++) {
    const next = greedy(outputs[outputs.length - 1]);
    const t0 = process.hrtime.bigint();
    append([next]);
    stepMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
decode(steps / 2);

// Speculative decoding: a draft of 4 tokens checked in one call; the verifier keeps 2.
const before = cache.lengths[0];
append([5, 17, 33, 2]);
cache.truncate(before + 2); // roll the cache back: the 2 rejected tokens are forgotten
tokens.length = before + 2;
outputs.length = before + 2;
decode(steps / 2);
console.log(
  `MultiHeadAttention(E=${E}, heads=8, kv heads=2, rotary) · prompt ${promptLength} tokens, ${steps} steps, ` +
    `a 4-token draft with 2 kept · cache holds ${cache.lengths[0]} of ${maxLength} tokens (${cache.byteLength} bytes)`,
);

// Check: one causal forward over the kept tokens, without a cache, row for row.
const full = layer.forward(embedAll(tokens), null, null, { causal: true });
let worst = 0;
outputs.forEach((row, r) => {
  for (let i = 0; i < E; i++) worst = Math.max(worst, Math.abs(row[i] - full.data[r * E + i]));
});
console.log(`step outputs vs one full causal forward: max abs difference ${worst.toExponential(2)} over ${outputs.length} rows`);

const median = stepMs.sort((a, b) => a - b)[stepMs.length >> 1];
console.log(`speed: median ${median.toFixed(3)} ms per decode step (${getNumThreads()} threads)`);
if (!(worst < 1e-4)) process.exit(1);
