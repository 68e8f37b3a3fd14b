// A server's view of the async path (run in child processes with UV_THREADPOOL_SIZE=2 and
// setNumThreads(4), as on a many-core machine with libuv's default pool): async calls
// queue on the native compute pool, never in libuv's thread pool, so the application's
// fs work is not held up behind them, whether they come from the main thread or from
// worker threads; and a synchronous call made meanwhile runs at once on its own thread
// instead of waiting for the queue.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const DIST = path.join(process.env.NATIVE_ATTENTION_DIST ?? path.resolve(__dirname, '..', '..', 'dist'), 'index.js');
const CHILD = path.join(__dirname, 'admission-child.cjs');

interface Measured {
  readMs: number;
  syncMs: number;
  aloneMs: number;
  oneBigMs: number;
  totalMs: number;
}

function run(mode: 'main' | 'workers'): Measured {
  const r = spawnSync(process.execPath, [CHILD, DIST, mode], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, UV_THREADPOOL_SIZE: '2' },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Measured;
}

describe('16 large forwardAsync calls queued, UV_THREADPOOL_SIZE=2, setNumThreads(4)', () => {
  it.each(['main', 'workers'] as const)(
    'from %s: fs.readFile completes in < 50 ms; a sync call does not wait for the queue',
    { retry: 2, tags: ['timing'] },
    (mode) => {
      const m = run(mode);
      console.log(`${mode}: ${JSON.stringify(m, (_k, v) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`);
      // The queue must be long for this to mean anything: many times one large call.
      expect(m.totalMs).toBeGreaterThan(4 * m.oneBigMs);
      expect(m.readMs).toBeLessThan(50);
      // Waiting for the queue would take about totalMs; running at once takes about
      // aloneMs (more when the cores are busy with the queued calls: allow 20 ms).
      expect(m.syncMs).toBeLessThan(Math.min(m.aloneMs * 10 + 20, m.totalMs / 4));
    },
  );
});
