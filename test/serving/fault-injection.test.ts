// Exception safety: allocations and thread starts made to fail (a test hook armed by
// NATIVE_ATTENTION_FAULT_INJECTION=1) inside every entry point give a JavaScript error,
// never an abort; the process survives, and the same calls work afterwards.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(process.env.NATIVE_ATTENTION_DIST ?? path.join(ROOT, 'dist'), 'index.js');
const CHILD = path.join(__dirname, 'fault-child.cjs');

interface Result {
  name: string;
  outcome: 'ok' | 'error';
  type?: string;
  message?: string;
  /** Cache cases: the call failed; its cache's lengths, busy flag and a retry after. */
  call?: string;
  unchanged?: boolean;
  notBusy?: boolean;
  retryOk?: boolean;
}

function run(kind: 'alloc' | 'thread' | 'cache'): {
  results: Result[];
  worksAfter: boolean;
  succeededAt?: Record<string, number>;
} {
  const r = spawnSync(process.execPath, [CHILD, DIST, kind], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, NATIVE_ATTENTION_FAULT_INJECTION: '1' },
  });
  expect({ status: r.status, signal: r.signal }, r.stderr).toEqual({ status: 0, signal: null });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
}

describe('fault injection', () => {
  it('the hook is not exported without NATIVE_ATTENTION_FAULT_INJECTION=1', async () => {
    const { rawBinding } = await import('../../lib/binding');
    expect(rawBinding._faultInjection).toBeUndefined();
  });

  it('a failed allocation in each entry point is a JavaScript Error; later calls work', () => {
    const { results, worksAfter } = run('alloc');
    console.table(results);
    expect(results.length).toBe(10);
    for (const r of results) {
      expect(r.outcome, r.name).toBe('error');
      expect(r.type, r.name).toBe('Error');
      expect(r.message, r.name).toMatch(/could not allocate/);
    }
    expect(worksAfter).toBe(true);
  });

  it('thread starts that fail: sync calls run on the caller, async calls reject; later calls work', () => {
    const { results, worksAfter } = run('thread');
    console.table(results);
    expect(results[0]).toMatchObject({ outcome: 'ok' });
    expect(results[1]).toMatchObject({ outcome: 'error', type: 'Error' });
    expect(results[1]!.message).toMatch(/could not start a compute thread/);
    expect(worksAfter).toBe(true);
  });

  it('caches: each allocation of createCache and of cached forward / forwardAsync fails cleanly; nothing is committed', () => {
    const { results, worksAfter, succeededAt } = run('cache');
    console.table(
      results.map(({ name, outcome, message, unchanged, notBusy, retryOk }) => ({
        name,
        outcome,
        message,
        unchanged,
        notBusy,
        retryOk,
      })),
    );
    for (const r of results) {
      expect(r.outcome, r.name).toBe('error');
      expect(r.type, r.name).toBe('Error');
      expect(r.message, r.name).toMatch(/could not allocate/);
      // The cache's lengths as before the call, not busy, and a retry gives the bits and
      // lengths of a cache that never failed.
      expect({ unchanged: r.unchanged, notBusy: r.notBusy, retryOk: r.retryOk }, r.name).toEqual({
        unchanged: true,
        notBusy: true,
        retryOk: true,
      });
    }
    // createCache fails at its allocations (the state and the key/value memory) and then works.
    expect(results.filter((r) => r.call === 'createCache').length).toBeGreaterThanOrEqual(2);
    expect(worksAfter).toBe(true);
    // Every kind of call was made to fail at least at its workspace (sync), and async calls
    // also at their copies of the inputs and the output, the call record and the workspace
    // on the pool thread; each then succeeded once the allocation to fail was past the last.
    const calls = Object.keys(succeededAt ?? {});
    expect(calls.length).toBe(8);
    for (const call of calls) {
      const failures = results.filter((r) => r.call === call).length;
      expect(failures, call).toBe(succeededAt![call]);
      expect(failures, call).toBeGreaterThanOrEqual(call.startsWith('forwardAsync') ? 7 : 1);
    }
  });
});
