// Prints the README's summary of a results file: per thread count and shape, ratios of each peer's
// median to ours (above 1: ours is faster), and for the cases ours does not run yet (P1, D1, D8) the
// peers against onnxruntime's GroupQueryAttention and the decode steps' share of the copy bandwidth.
// Usage: node scripts/readme-table.mjs [results/<cpu>.json ...]   (several runs of one machine:
// each cell lists the runs' ratios in the order given, "a / b")
import { readFileSync } from 'node:fs';

const index = JSON.parse(readFileSync(new URL('../results/index.json', import.meta.url), 'utf8'));
const files = process.argv.length > 2 ? process.argv.slice(2) : [new URL(`../results/${index[0].file}.json`, import.meta.url)];
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const r = runs[runs.length - 1];
const threads = [...new Set(r.results.map((x) => x.threads))];
const shapes = [...new Set(r.results.map((x) => x.shape))];
const rowIn = (run, t, s, peer) =>
  run.results.find((x) => x.threads === t && x.shape === s && x.peer === peer && x.status === 'ok');
const row = (t, s, peer) => rowIn(r, t, s, peer);
const ortBestIn = (run, t, s) =>
  ['ort-mha', 'ort-plain', 'ort-attn', 'ort-gqa']
    .map((p) => rowIn(run, t, s, p))
    .filter(Boolean)
    .sort((a, b) => a.medianMs - b.medianMs)[0];
const ortBest = (t, s) => ortBestIn(r, t, s);
// ratio of peer to base in every run; peer/base: a peer id, 'ort-best', or a row (latest run only)
const ratio = (p, base) => {
  if (typeof p !== 'string') return p && base ? `${(p.medianMs / base.medianMs).toFixed(2)}×` : '–';
  const cells = runs.map((run) => {
    const t = base.threads,
      s = base.shape;
    const a = p === 'ort-best' ? ortBestIn(run, t, s) : rowIn(run, t, s, p);
    const b = rowIn(run, t, s, base.peer);
    return a && b ? `${(a.medianMs / b.medianMs).toFixed(2)}×` : '–';
  });
  return cells.join(' / ');
};
const ORT = { 'ort-mha': 'MHA', 'ort-plain': 'plain', 'ort-attn': 'Attention', 'ort-gqa': 'GQA' };

console.log('| threads | shape | onnxruntime (best graph) | tfjs-node | TF.js wasm | ours, % of sgemm |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const t of threads) {
  for (const s of shapes) {
    const ours = row(t, s, 'ours');
    if (!ours) continue;
    const ort = ortBest(t, s);
    const best = runs.map((run) => ORT[ortBestIn(run, t, s)?.peer]).filter(Boolean);
    console.log(
      `| ${t} | ${s} | ${ratio('ort-best', ours)}${ort ? ` (${[...new Set(best)].join(', ')})` : ''} | ${ratio('tfjs-node', ours)} | ${ratio('wasm', ours)} | ${s === 'T0' ? '–' : runs.map((run) => `${rowIn(run, t, s, 'ours')?.pctCeiling?.toFixed(0) ?? '–'}%`).join(' / ')} |`,
    );
  }
}
const rest = shapes.filter((s) => threads.some((t) => !row(t, s, 'ours') && row(t, s, 'ort-gqa')));
if (rest.length) {
  console.log(
    '\n| threads | shape | tfjs-node / ORT GQA | TF.js wasm / ORT GQA | ORT GQA, % of copy bandwidth | tfjs-node, % of copy bandwidth |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const t of threads) {
    const bw = r.bandwidth?.[t]?.gbps;
    for (const s of rest) {
      const g = row(t, s, 'ort-gqa');
      const _pct = (x) => (x?.gbps && bw ? `${((100 * x.gbps) / bw).toFixed(0)}%` : '–');
      const pcts = (peer) =>
        runs
          .map((run) => {
            const x = rowIn(run, t, s, peer),
              w = run.bandwidth?.[t]?.gbps;
            return x?.gbps && w ? `${((100 * x.gbps) / w).toFixed(0)}%` : '–';
          })
          .join(' / ');
      console.log(
        `| ${t} | ${s} | ${ratio('tfjs-node', g)} | ${ratio('wasm', g)} | ${s.startsWith('D') ? pcts('ort-gqa') : '–'} | ${s.startsWith('D') ? pcts('tfjs-node') : '–'} |`,
      );
    }
  }
}
for (const run of runs) {
  console.log(
    `\n${run.meta.date}: sgemm ceiling (2048³, same run) ${Object.entries(run.ceiling)
      .map(([t, v]) => `${v.gflops?.toFixed(0)} GFLOP/s at ${t} thread${t === '1' ? '' : 's'}`)
      .join(', ')}` +
      `${
        run.bandwidth
          ? `; copy bandwidth ${Object.entries(run.bandwidth)
              .map(([t, v]) => `${v.gbps?.toFixed(1)} GB/s at ${t} thread${t === '1' ? '' : 's'}`)
              .join(', ')}`
          : ''
      }` +
      `${run.meta.background ? `; other processes took ${run.meta.background.otherPct.toFixed(0)}% of the CPUs` : ''}.`,
  );
}
