// Child process of test/numerical/long-sequence.test.ts (plain CommonJS on dist/, so that
// nothing but the package and this script is in the process whose memory is measured).
//
//   node long-sequence-child.cjs <dist/index.js> <input.bin> <L> <E> <H> <rows,...>
//
// input.bin: query [1, L, E] then wq, bq, wk, bk, wv, bv, wo, bo, all float32. Prints one
// JSON line: RSS figures (KiB), timing, whether the output is finite, and the output rows
// asked for.
'use strict';
const fs = require('node:fs');

const [distIndex, inputFile, Ls, Es, Hs, rowsArg] = process.argv.slice(2);
const L = Number(Ls);
const E = Number(Es);
const H = Number(Hs);
const rows = rowsArg.split(',').map(Number);
const { MultiHeadAttention } = require(distIndex);

const bytes = fs.readFileSync(inputFile);
const all = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
const layer = new MultiHeadAttention({ embedDim: E, numHeads: H, seed: 1 });
const shapes = layer.weightShapes();
let offset = L * E;
const query = { data: all.subarray(0, offset), shape: [1, L, E] };
const weights = {};
for (const name of ['wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo']) {
  const n = shapes[name].reduce((a, b) => a * b, 1);
  weights[name] = { data: all.slice(offset, offset + n), shape: shapes[name] };
  offset += n;
}
if (offset !== all.length) throw new Error(`input.bin: ${all.length} floats, expected ${offset}`);
layer.setWeights(weights);

// The baseline: the resident size right before the call (inputs, weights and the addon
// loaded), and the high-water mark so far.
const baseRss = Math.round(process.memoryUsage().rss / 1024);
const baseMaxRss = process.resourceUsage().maxRSS;
const t0 = performance.now();
const y = layer.forward(query);
const ms = performance.now() - t0;
const peakMaxRss = process.resourceUsage().maxRSS;

let finite = true;
for (let i = 0; i < y.data.length; i++)
  if (!Number.isFinite(y.data[i])) {
    finite = false;
    break;
  }
const O = y.shape[2];
const outRows = rows.map((i) => Array.from(y.data.subarray(i * O, (i + 1) * O)));
process.stdout.write(`${JSON.stringify({ baseRss, baseMaxRss, peakMaxRss, ms, finite, shape: y.shape, rows: outRows })}\n`);
