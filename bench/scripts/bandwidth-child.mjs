// One copy-bandwidth measurement in a process of its own (see copyBandwidthInChild):
//   node bench/scripts/bandwidth-child.mjs THREADS MIB REPS   → one JSON line
import { copyBandwidth } from '../lib/bandwidth.mjs';

const [threads, mib, reps] = process.argv.slice(2).map(Number);
console.log(JSON.stringify(await copyBandwidth(threads, { mib, reps })));
