// The tutorial's example, natively: a SelfAttention layer with embedding size 256 and
// 8 heads, random values/keys/query and a mask; prints the output shape, then a speed
// line measured side by side with this machine's own sgemm.
import { SelfAttention, MultiHeadAttention, tensor, matmul, blasInfo, getNumThreads } from '../dist/index.js';

function random(shape, seed) {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1; // uniform in [-1, 1)
  }
  return tensor(data, shape);
}

function medianMs(fn, reps) {
  fn();
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b)[reps >> 1];
}

// --- the tutorial's example -----------------------------------------------------------
const embedSize = 256,
  heads = 8,
  batch = 32,
  seqLen = 10;
const attention = new SelfAttention(embedSize, heads, { seed: 42 });
const values = random([batch, seqLen, embedSize], 1);
const keys = random([batch, seqLen, embedSize], 2);
const query = random([batch, seqLen, embedSize], 3);
// Mask [N, 1, 1, keyLen]: 1 = attend, 0 = masked; every odd batch row hides its last 3 keys.
const mask = new Uint8Array(batch * seqLen).fill(1);
for (let b = 1; b < batch; b += 2) mask.fill(0, b * seqLen + seqLen - 3, (b + 1) * seqLen);
const out = attention.call(values, keys, query, { data: mask, shape: [batch, 1, 1, seqLen] });
console.log(`SelfAttention(embedSize=${embedSize}, heads=${heads})`);
console.log(`values, keys, query: [${query.shape.join(', ')}]  mask: [${batch}, 1, 1, ${seqLen}]`);
console.log(`output shape: [${out.shape.join(', ')}]`);

// --- speed -----------------------------------------------------------------------------
const seedMs = medianMs(() => attention.call(values, keys, query, { data: mask, shape: [batch, 1, 1, seqLen] }), 200);
// A BERT-base-sized batch (B=8, L=256, E=768, H=12) against a 2048³ sgemm, same run, same threads.
const B = 8,
  L = 256,
  E = 768;
const mha = new MultiHeadAttention({ embedDim: E, numHeads: 12, seed: 1 });
const x = random([B, L, E], 4);
const y = new Float32Array(B * L * E);
const mhaMs = medianMs(() => mha.forward(x, x, x, { out: y }), 15);
const mhaGflops = (8 * B * L * E * E + 4 * B * L * L * E) / mhaMs / 1e6;
const n = 2048,
  a = random([n, n], 5),
  c = new Float32Array(n * n);
const gemmGflops = (2 * n ** 3) / medianMs(() => matmul(a, a, c), 7) / 1e6;
console.log(
  `speed: tutorial example ${seedMs.toFixed(3)} ms/call · B=8 L=256 E=768 H=12 ${mhaMs.toFixed(1)} ms/call = ` +
    `${mhaGflops.toFixed(0)} GFLOP/s, ${((100 * mhaGflops) / gemmGflops).toFixed(0)}% of this machine's sgemm ` +
    `(${gemmGflops.toFixed(0)} GFLOP/s) · ${getNumThreads()} threads, OpenBLAS ${blasInfo().coreName}`,
);
