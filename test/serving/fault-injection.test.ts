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
}

function run(kind: 'alloc' | 'thread'): { results: Result[]; worksAfter: boolean } {
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
});
