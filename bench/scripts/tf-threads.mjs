// Does TensorFlow obey TF_NUM_INTRAOP_THREADS? For 1 and 2 threads, a fresh tfjs-node child process
// (peers/tfjs-node.mjs) runs one shape alone and reports CPU time / wall time over its calls:
// ≈1.0 at one thread (never clearly above), above 1 at two (on an idle machine), and the number of
// threads that did the work (those with ≥ 1/4 of the busiest thread's CPU time; Linux /proc).
//   node scripts/tf-threads.mjs [--shape S3] [--reps 5]
import { parseArgs } from 'node:util';
import { SHAPES } from '../lib/shapes.mjs';
import { makeCase, completeCase } from '../lib/data.mjs';
import tfjsNode from '../peers/tfjs-node.mjs';

const { values: a } = parseArgs({
  options: { shape: { type: 'string', default: 'S3' }, reps: { type: 'string', default: '5' } },
});
const c = await completeCase(makeCase(SHAPES[a.shape]));
await tfjsNode.load();
for (const threads of [1, 2]) {
  const r = await tfjsNode.prepare(c, threads);
  await r.run(); // checked run in the harness; here a warm-up
  await r.resetStats();
  const times = [];
  for (let i = 0; i < +a.reps; i++) {
    await r.run();
    times.push(r.lastMs());
  }
  times.sort((x, y) => x - y);
  const st = await r.stats();
  console.log(
    `${a.shape} tfjs-node, TF_NUM_INTRAOP_THREADS=${threads}: median ${times[times.length >> 1].toFixed(1)} ms, CPU/wall ${st.cpuPerWall.toFixed(2)}, busy threads ${st.busyThreads}`,
  );
  await r.dispose();
}
process.exit(0);
