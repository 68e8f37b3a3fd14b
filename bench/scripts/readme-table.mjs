// Prints the README's summary of results/latest.json: per thread count, ours vs
// onnxruntime's best graph and TF.js wasm (ms, ratio) and ours' share of the sgemm ceiling.
// Usage: node scripts/readme-table.mjs [results/latest.json]
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? new URL('../results/latest.json', import.meta.url);
const r = JSON.parse(readFileSync(file, 'utf8'));
const fmt = (ms) => (ms < 0.1 ? `${(ms * 1000).toFixed(1)} µs` : ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(1)} ms`);
const threads = [...new Set(r.results.map((x) => x.threads))];
const shapes = [...new Set(r.results.map((x) => x.shape))];
console.log('| threads | shape | ours | onnxruntime (best graph) | ours faster by | TF.js wasm | ours faster by | ours, % of sgemm |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const t of threads) {
  for (const s of shapes) {
    const row = (peer) => r.results.find((x) => x.threads === t && x.shape === s && x.peer === peer && x.status === 'ok');
    const ours = row('ours');
    if (!ours) continue;
    const ort = [row('ort-mha'), row('ort-plain')].filter(Boolean).sort((a, b) => a.medianMs - b.medianMs)[0];
    const wasm = row('wasm');
    const ratio = (p) => (p ? `${(p.medianMs / ours.medianMs).toFixed(2)}×` : '–');
    console.log(`| ${t} | ${s} | ${fmt(ours.medianMs)} | ${ort ? fmt(ort.medianMs) : '–'} | ${ratio(ort)} | ${wasm ? fmt(wasm.medianMs) : '–'} | ${ratio(wasm)} | ${s === 'T0' ? '–' : `${ours.pctCeiling.toFixed(0)}%`} |`);
  }
}
const c = r.ceiling;
console.log(`\nsgemm ceiling (2048³, same run): ${Object.entries(c).map(([t, v]) => `${v.gflops.toFixed(0)} GFLOP/s at ${t} thread${t === '1' ? '' : 's'}`).join(', ')}.`);
