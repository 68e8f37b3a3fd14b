// Child process of the tfjs-node peer (see tfjs-node.mjs): TensorFlow's thread counts come from its
// environment. Messages: load, info, prepare(case), run({ output }) → { ms, cpuMs, data? }, dispose.
import { tfjsNodeDirect as peer } from './tfjs-node.mjs';

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
