// Peak RSS of one peer on one shape, in a fresh process (run by bench.mjs, or by hand:
//   node --expose-gc scripts/memory-child.mjs --peer ours --shape S3 --threads 2 [--mode forwardWithWeights]).
// Prints one JSON line. baseline = RSS after loading the peer and making inputs/weights (after GC);
// peak = VmHWM (this process image's high-water RSS) after prepare + runs; delta = peak - baseline.
// Not getrusage's maxRSS: on Linux a child started from a big parent inherits the parent's figure.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { SHAPES } from '../lib/shapes.mjs';
import { makeCase, completeCase } from '../lib/data.mjs';
import { peerById } from '../peers/index.mjs';
import { tfjsNodeDirect } from '../peers/tfjs-node.mjs';
import { shortErr } from '../lib/format.mjs';

const { values: a } = parseArgs({
  options: {
    peer: { type: 'string' },
    shape: { type: 'string' },
    threads: { type: 'string', default: '1' },
    mode: { type: 'string' },
    runs: { type: 'string', default: '2' },
  },
});
const MB = 1024 * 1024;
function peakRss() {
  try {
    const kb = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return { bytes: +kb * 1024, source: 'VmHWM' };
  } catch {}
  return { bytes: process.resourceUsage().maxRSS * 1024, source: 'maxRSS' };
}
const out = { peer: a.peer, shape: a.shape, threads: +a.threads, mode: a.mode ?? 'forward', runs: +a.runs };
try {
  // tfjs-node in this process (its harness peer is a proxy to a child; memory.mjs sets TF's env)
  const peer = a.peer === 'tfjs-node' ? tfjsNodeDirect : peerById(a.peer);
  await peer.load();
  const c = await completeCase(makeCase(SHAPES[a.shape]));
  // Baseline once the peer holds its weights and the inputs exist: the bar is
  // memory above inputs, weights and output, so only the output and the work remain in Δ.
  const r = await peer.prepare(c, +a.threads, { mode: a.mode });
  globalThis.gc?.();
  const baseline = process.memoryUsage.rss();
  for (let i = 0; i < +a.runs; i++) {
    await r.before?.();
    await r.run();
  }
  const { bytes: peak, source } = peakRss();
  Object.assign(out, { baselineMB: baseline / MB, peakMB: peak / MB, deltaMB: (peak - baseline) / MB, source });
} catch (e) {
  out.error = shortErr(e);
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
