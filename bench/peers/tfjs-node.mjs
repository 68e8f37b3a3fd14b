// @tensorflow/tfjs-node: TF.js ops on libtensorflow (TensorFlow 2.21 from pip's tensorflow-cpu wheel,
// set up by scripts/setup-tfjs-node.mjs; tfjs-node 4.22 itself was built against 2.9.1).
//
// TensorFlow reads its thread counts (TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS) once, when the
// library loads, so the peer runs in a child process per thread count (tfjs-node-child.mjs) and this
// proxy drives it: the harness still interleaves it with the other peers call by call. The child
// times each call itself (no IPC in the figure) and reports its process CPU time, so the harness can
// show CPU time / wall time over the timed calls: ≈1 at one intra-op thread, up to 2 at two.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeTfPeer } from './tfjs-common.mjs';

const CHILD = fileURLToPath(new URL('./tfjs-node-child.mjs', import.meta.url));
const STATUS = fileURLToPath(new URL('../node_modules/.tfjs-node-setup.json', import.meta.url));

// The in-process peer: used inside the child (and by the memory child process).
export const tfjsNodeDirect = makeTfPeer({
  id: 'tfjs-node',
  label: '@tensorflow/tfjs-node',
  backend: 'tensorflow',
  async importTf() {
    try {
      return await import('@tensorflow/tfjs-node');
    } catch (e) {
      const missing = e.code === 'ERR_MODULE_NOT_FOUND' && /tfjs-node['"]/.test(e.message);
      throw new Error(
        missing ? 'not installed (npm run bench:setup-tfjs-node)' : `installed but failed to load: ${e.message.split('\n')[0]}`,
      );
    }
  },
  async notes(tf) {
    return [`TensorFlow ${tf.backend().binding?.TF_Version ?? '?'}`];
  },
  threadNote: (n) => `TF_NUM_INTRAOP_THREADS=${n} TF_NUM_INTEROP_THREADS=1 (child process per thread count)`,
});

// Environment of the child for `threads` intra-op threads. oneDNN: TF turns it on by default only on
// CPUs with AVX-512 VNNI/BF16 or AMX, and it was 1.05–1.8× faster elsewhere too (NOTES.md), so it is
// on unless TF_ENABLE_ONEDNN_OPTS is set by the caller.
export function tfEnv(threads) {
  return {
    ...process.env,
    TF_NUM_INTRAOP_THREADS: String(threads),
    TF_NUM_INTEROP_THREADS: '1',
    TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2',
    TF_ENABLE_ONEDNN_OPTS: process.env.TF_ENABLE_ONEDNN_OPTS ?? '1',
  };
}

function startChild(threads) {
  const proc = fork(CHILD, [], { env: tfEnv(threads), serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const pending = [];
  let dead = null;
  proc.on('message', (m) => pending.shift()?.resolve(m));
  proc.on('exit', (code, sig) => {
    const line =
      stderr
        .trim()
        .split('\n')
        .filter((l) => !/absl::InitializeLog|oneDNN custom operations/.test(l))
        .pop() ?? '';
    dead = new Error(`tfjs-node child exited (${sig ?? code})${line ? `: ${line}` : ''}`);
    for (const p of pending.splice(0)) p.reject(dead);
  });
  const call = (op, arg) =>
    new Promise((resolve, reject) => {
      if (dead) return reject(dead);
      pending.push({ resolve: (m) => (m.error ? reject(new Error(m.error)) : resolve(m)), reject });
      proc.send({ op, arg });
    });
  return {
    threads,
    proc,
    call,
    kill: () => {
      if (!dead) proc.kill();
    },
  };
}

let child = null;
async function childFor(threads) {
  if (child?.threads !== threads) {
    child?.kill(); // one TensorFlow process at a time (~450 MB each)
    child = startChild(threads);
    await child.call('load');
  }
  return child;
}
process.on('exit', () => child?.kill());

export default {
  id: 'tfjs-node',
  label: '@tensorflow/tfjs-node',
  threadNote: (n) =>
    `TF_NUM_INTRAOP_THREADS=${n}, TF_NUM_INTEROP_THREADS=1, set before libtensorflow loads (a child process per thread count); oneDNN ${tfEnv(n).TF_ENABLE_ONEDNN_OPTS === '0' ? 'off' : 'on'}`,
  async load() {
    let status = null;
    try {
      status = JSON.parse(readFileSync(STATUS, 'utf8'));
    } catch {}
    if (!status?.ok) {
      throw new Error(
        status
          ? `not set up: ${status.message}`
          : 'not set up (npm run bench:setup-tfjs-node; npm run bench does it when pip can fetch the tensorflow-cpu wheel)',
      );
    }
    const c = await childFor(1);
    const r = await c.call('info');
    return { version: r.version, notes: [...r.notes, `tfjs-node built against TF 2.9.1, running on TF ${r.tf}`], tf: r.tf };
  },
  async prepare(c, threads) {
    const ch = await childFor(threads);
    await ch.call('prepare', c);
    let first = true,
      lastMs = 0,
      wall = 0,
      cpu = 0,
      ticks0 = null;
    return {
      selfTimed: true,
      lastMs: () => lastMs,
      async run() {
        const r = await ch.call('run', { output: first });
        first = false;
        lastMs = r.ms;
        wall += r.ms;
        cpu += r.cpuMs;
        return r.data ?? new Float32Array(0);
      },
      // CPU time / wall time over the timed calls, and how many threads did the work: those with at
      // least a quarter of the busiest thread's CPU time (per-thread ticks from /proc, Linux only)
      async resetStats() {
        wall = 0;
        cpu = 0;
        ticks0 = (await ch.call('threads')).ticks;
      },
      async stats() {
        const t1 = (await ch.call('threads')).ticks;
        const used = Object.entries(t1).map(([tid, v]) => v - (ticks0?.[tid] ?? 0));
        const max = Math.max(0, ...used);
        return {
          cpuPerWall: wall > 0 ? cpu / wall : null,
          busyThreads: max > 0 ? used.filter((u) => u >= max / 4).length : null,
        };
      },
      dispose: () => ch.call('dispose').catch(() => {}),
    };
  },
};
