// Crash-proofing of the RAW native module (build/Release/native_attention.node, or
// $NATIVE_ATTENTION_BINARY), with lib/'s checks out of the way: every raw function is
// called with lying sizes and wrong kinds of arguments in a child process (child.cjs),
// which must report a TypeError/RangeError for each and then exit normally -- exit
// code 0 and no signal. A crash would take the child down, not this test runner.
//
// The hazard scenarios below (worker terminated mid-call, memory taken away from an async
// call) are run one per child. Those that crash or misbehave today are `it.fails` and
// named [known bug]: flip them to `it` once fixed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const CHILD = path.join(__dirname, 'child.cjs');
const BINARY =
  process.env.NATIVE_ATTENTION_BINARY ?? path.resolve(__dirname, '..', '..', 'build', 'Release', 'native_attention.node');
const UNDER_ASAN = /libasan/.test(process.env.LD_PRELOAD ?? '');

interface ChildRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runChild(args: string[], timeoutMs = 60_000): ChildRun {
  const r = spawnSync(process.execPath, ['--expose-gc', CHILD, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    env: { ...process.env, NATIVE_ATTENTION_BINARY: BINARY },
    maxBuffer: 16 << 20,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Exit code 0 and no signal, with the child's stderr in the failure message. */
function expectCleanExit(run: ChildRun, what: string): void {
  const tail = run.stderr.split('\n').slice(0, 40).join('\n');
  expect({ status: run.status, signal: run.signal }, `${what} did not exit cleanly; stderr:\n${tail}`).toEqual({
    status: 0,
    signal: null,
  });
}

function lastJson<T>(run: ChildRun): T {
  const line = run.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as T;
}

interface CaseResult {
  name: string;
  expect: string;
  outcome: 'threw' | 'rejected' | 'returned' | 'resolved';
  async?: boolean;
  type?: string;
  message?: string;
}

it('the raw binary exists', () => {
  expect(fs.existsSync(BINARY), `${BINARY} (run npm run compile)`).toBe(true);
});

describe('every raw function with lying or wrong arguments (one child process)', () => {
  const run = runChild(['cases']);
  let parsed: { results: CaseResult[]; stillWorks: boolean } | null = null;
  try {
    parsed = lastJson(run);
  } catch {
    parsed = null;
  }
  const results = parsed?.results ?? [];

  it('the child exits with code 0 and no signal, having reported every case', () => {
    expectCleanExit(run, 'the cases child');
    expect(parsed, 'the child printed its results').not.toBeNull();
    expect(results.length).toBeGreaterThan(140);
    expect(parsed!.stillWorks, 'a valid call after all the bad ones gives finite, non-zero output').toBe(true);
    // The table for humans (npx vitest run test/raw-binding --reporter verbose shows it).
    const rows = results.map(
      (r) => `${r.name.padEnd(66)} ${r.outcome.padEnd(8)} ${(r.type ?? '').padEnd(10)} ${r.message ?? ''}`,
    );
    console.log(`raw binding: ${results.length} calls\n${rows.join('\n')}`);
  });

  const named = (prefix: string) => results.filter((r) => r.expect === prefix);

  it.each(named('error').map((r) => [r.name, r] as const))('%s → TypeError/RangeError', (_name, r) => {
    expect(['threw', 'rejected'], `${r.name}: ${r.outcome}`).toContain(r.outcome);
    expect(['TypeError', 'RangeError']).toContain(r.type);
    expect(r.message, 'a message naming what is wrong').toMatch(
      /^[\w .()[\]]+: \S|^Illegal invocation$|^Class constructors cannot be invoked without 'new'$/,
    );
  });

  // Not a bad argument but a bad moment (a cache an async call is still appending to): an
  // Error saying so, thrown at once.
  it.each(named('state-error').map((r) => [r.name, r] as const))('%s → Error (in flight)', (_name, r) => {
    expect(r.outcome).toBe('threw');
    expect(r.type).toBe('Error');
    expect(r.message).toMatch(/^\w+: .*in use by an async call still in flight/);
  });

  it.each(named('ok').map((r) => [r.name, r] as const))('%s → succeeds', (_name, r) => {
    expect(['returned', 'resolved'], `${r.name}: ${r.outcome} ${r.message ?? ''}`).toContain(r.outcome);
  });

  const knownBugs = results.filter((r) => r.expect.startsWith('known-bug'));
  it.runIf(knownBugs.length > 0).fails.each(knownBugs.map((r) => [r.name, r] as const))(
    '[known bug] %s → TypeError/RangeError',
    (_name, r) => {
      expect(['TypeError', 'RangeError']).toContain(r.type);
    },
  );
});

describe('hazards, one child process each: exit code 0, no signal', () => {
  it('process.exit() while async calls run on the thread pool', () => {
    expectCleanExit(runChild(['scenario', 'exit-during-async']), 'exit-during-async');
  });

  // When a worker's environment is torn down with calls in flight, settling the Promise
  // fails; node-addon-api would turn that into a C++ exception and abort the process.
  // The addon is built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS so it does not.
  it('worker.terminate() while the worker has async calls in flight', () => {
    const run = runChild(['scenario', 'terminate-worker-during-async']);
    expectCleanExit(run, 'terminate-worker-during-async');
    expect(lastJson<{ workerExit: number }>(run).workerExit).toBe(1);
  });

  it('process.exit() inside a worker with async calls in flight', () => {
    const run = runChild(['scenario', 'exit-inside-worker-during-async']);
    expectCleanExit(run, 'exit-inside-worker-during-async');
    expect(lastJson<{ workerExit: number }>(run).workerExit).toBe(3);
  });

  // A reference keeps a typed array alive, not its memory: a resizable buffer shrunk, or a
  // buffer transferred away, mid-call. Async calls therefore compute on copies of their
  // inputs and into owned memory, copied into `out` in OnOK only if it is still attached.
  it('a resizable input buffer shrunk to 0 during forwardAsync', () => {
    const run = runChild(['scenario', 'resize-input-during-async']);
    expectCleanExit(run, 'resize-input-during-async');
  });

  it('an input transferred away during an async call is not read afterwards', () => {
    const run = runChild(['scenario', 'transfer-input-during-async']);
    expectCleanExit(run, 'transfer-input-during-async');
    const r = lastJson<{ outcome: string; nanOutputs: number }>(run);
    // Either computed from a snapshot (no NaN from the new owner's writes) or refused.
    if (r.outcome === 'resolved') expect(r.nanOutputs, 'outputs computed from memory the call no longer owned').toBe(0);
    else expect(r.outcome).toMatch(/^rejected: TypeError/);
  });

  it('`out` transferred away during an async call is not written afterwards', () => {
    const run = runChild(['scenario', 'transfer-out-during-async']);
    expectCleanExit(run, 'transfer-out-during-async');
    const r = lastJson<{ outcome: string; stolenElementsWritten: number }>(run);
    expect(r.stolenElementsWritten, 'elements written into memory that now belongs to someone else').toBe(0);
    expect(r.outcome).toMatch(/^rejected: TypeError/);
  });

  // The same with the memory freed: a use-after-free that only ASan reports reliably
  // (without it the child may or may not crash), so it runs under scripts/test-asan.mjs only.
  it.runIf(UNDER_ASAN)(
    'an input and out freed during an async call (ASan)',
    () => {
      const run = runChild(['scenario', 'free-input-during-async'], 120_000);
      expectCleanExit(run, 'free-input-during-async');
    },
    180_000,
  );
});
