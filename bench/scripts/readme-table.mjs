// Prints the README's summary of a results file: per thread count and shape, ratios of each peer's
// median to ours (above 1: ours is faster), and for the cases ours does not run yet (P1, D1, D8) the
// peers against onnxruntime's GroupQueryAttention and the decode steps' share of the copy bandwidth.
// Usage: node scripts/readme-table.mjs [results/<cpu>.json]
import { readFileSync } from 'node:fs';

const index = JSON.parse(readFileSync(new URL('../results/index.json', import.meta.url), 'utf8'));
const file = process.argv[2] ?? new URL(`../results/${index[0].file}.json`, import.meta.url);
const r = JSON.parse(readFileSync(file, 'utf8'));
const threads = [...new Set(r.results.map((x) => x.threads))];
const shapes = [...new Set(r.results.map((x) => x.shape))];
const row = (t, s, peer) => r.results.find((x) => x.threads === t && x.shape === s && x.peer === peer && x.status === 'ok');
const ortBest = (t, s) => ['ort-mha', 'ort-plain', 'ort-attn', 'ort-gqa'].map((p) => row(t, s, p)).filter(Boolean).sort((a, b) => a.medianMs - b.medianMs)[0];
const ratio = (p, base) => (p && base ? `${(p.medianMs / base.medianMs).toFixed(2)}×` : '–');
const ORT = { 'ort-mha': 'MHA', 'ort-plain': 'plain', 'ort-attn': 'Attention', 'ort-gqa': 'GQA' };

console.log('| threads | shape | onnxruntime (best graph) | tfjs-node | TF.js wasm | ours, % of sgemm |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const t of threads) {
  for (const s of shapes) {
    const ours = row(t, s, 'ours');
    if (!ours) continue;
    const ort = ortBest(t, s);
    console.log(`| ${t} | ${s} | ${ratio(ort, ours)}${ort ? ` (${ORT[ort.peer]})` : ''} | ${ratio(row(t, s, 'tfjs-node'), ours)} | ${ratio(row(t, s, 'wasm'), ours)} | ${s === 'T0' ? '–' : `${ours.pctCeiling.toFixed(0)}%`} |`);
  }
}
const rest = shapes.filter((s) => threads.some((t) => !row(t, s, 'ours') && row(t, s, 'ort-gqa')));
if (rest.length) {
  console.log('\n| threads | shape | tfjs-node / ORT GQA | TF.js wasm / ORT GQA | ORT GQA, % of copy bandwidth | tfjs-node, % of copy bandwidth |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const t of threads) {
    const bw = r.bandwidth?.[t]?.gbps;
    for (const s of rest) {
      const g = row(t, s, 'ort-gqa');
      const pct = (x) => (x?.gbps && bw ? `${((100 * x.gbps) / bw).toFixed(0)}%` : '–');
      console.log(`| ${t} | ${s} | ${ratio(row(t, s, 'tfjs-node'), g)} | ${ratio(row(t, s, 'wasm'), g)} | ${pct(g)} | ${pct(row(t, s, 'tfjs-node'))} |`);
    }
  }
}
const c = r.ceiling;
console.log(`\nsgemm ceiling (2048³, same run): ${Object.entries(c).map(([t, v]) => `${v.gflops?.toFixed(0)} GFLOP/s at ${t} thread${t === '1' ? '' : 's'}`).join(', ')}.`);
if (r.bandwidth) console.log(`copy bandwidth (same run): ${Object.entries(r.bandwidth).map(([t, v]) => `${v.gbps?.toFixed(1)} GB/s at ${t} thread${t === '1' ? '' : 's'}`).join(', ')}.`);
