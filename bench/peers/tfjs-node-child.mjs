// Child process of the tfjs-node peer (see tfjs-node.mjs): TensorFlow's thread counts come from its
// environment. Messages: load, info, prepare(case), run({ output }) → { ms, cpuMs, data? },
// threads → { ticks: per-thread CPU ticks }, dispose.
import { readdirSync, readFileSync } from 'node:fs';
import { tfjsNodeDirect as peer } from './tfjs-node.mjs';

// CPU ticks (user + system) of each thread of this process, from /proc (Linux; {} elsewhere).
function threadTicks() {
  const out = {};
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' '); // fields from 3 on
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      out[`${tid} ${name}`] = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
    }
  } catch {}
  return out;
}

let info = null;
let prepared = null;
const ops = {
  async load() {
    info = await peer.load();
    return {};
  },
  async info() {
    const tf = await import('@tensorflow/tfjs-node');
    return { version: info.version, notes: info.notes, tf: tf.backend().binding?.TF_Version ?? '?' };
  },
  async prepare(c) {
    await prepared?.dispose?.();
    prepared = await peer.prepare(c);
    return {};
  },
  async run({ output }) {
    await prepared.before?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const data = await prepared.run();
    const ms = performance.now() - t0;
    const c1 = process.cpuUsage(c0);
    return { ms, cpuMs: (c1.user + c1.system) / 1000, data: output ? data : null };
  },
  async threads() {
    return { ticks: threadTicks() };
  },
  async dispose() {
    await prepared?.dispose?.();
    prepared = null;
    return {};
  },
};
process.on('message', async ({ op, arg }) => {
  try {
    process.send(await ops[op](arg));
  } catch (e) {
    process.send({ error: String(e?.message ?? e).split('\n')[0] });
  }
});
process.on('disconnect', () => process.exit(0));
