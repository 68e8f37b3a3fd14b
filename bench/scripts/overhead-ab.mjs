// Per-call overhead of two builds of the package side by side (e.g. before and after a
// change to the native boundary): T0's tiny forward (B=1 L=4 E=16 H=2) timed in blocks of
// 2,000 warm calls, the builds alternated block by block, 60 blocks each; medians and their
// ratio. Each directory is a package root with dist/ and a built addon.
//   node bench/scripts/overhead-ab.mjs <packageA> <packageB>
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const dirs = process.argv.slice(2, 4);
if (dirs.length !== 2) {
  console.error('usage: node bench/scripts/overhead-ab.mjs <packageA> <packageB>');
  process.exit(1);
}
const calls = dirs.map((dir) => {
  const lib = require(path.resolve(dir, 'dist', 'index.js'));
  const m = new lib.MultiHeadAttention({ embedDim: 16, numHeads: 2, seed: 1 });
  const x = lib.tensor(
    new Float32Array(64).map((_, i) => Math.sin(i)),
    [1, 4, 16],
  );
  const out = new Float32Array(64);
  return () => m.forward(x, null, null, { out });
});
const times = calls.map(() => []);
for (let block = 0; block < 60; block++) {
  for (const [i, call] of calls.entries()) {
    for (let w = 0; w < 200; w++) call();
    const t = process.hrtime.bigint();
    for (let n = 0; n < 2000; n++) call();
    times[i].push(Number(process.hrtime.bigint() - t) / 2000 / 1000);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const [i, dir] of dirs.entries()) console.log(`${dir}: ${median(times[i]).toFixed(3)} µs per call (median of 60 blocks)`);
console.log(`B / A: ${(median(times[1]) / median(times[0])).toFixed(3)}`);
