// examples/decode.mjs, run as a user runs it (a child process on dist/): it exits 0, and the
// outputs of its prefill, decode steps and kept draft tokens equal one full causal forward
// over the same tokens.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';

const EXAMPLE = path.resolve(__dirname, '..', '..', 'examples', 'decode.mjs');

it('examples/decode.mjs: cached decoding equals one full causal forward', () => {
  const r = spawnSync(process.execPath, [EXAMPLE], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const line = /step outputs vs one full causal forward: max abs difference (\S+) over (\d+) rows/.exec(r.stdout);
  expect(line, r.stdout).not.toBeNull();
  expect(Number(line![1])).toBeLessThan(1e-5);
  expect(Number(line![2])).toBe(74); // 24 prompt + 48 steps + 2 kept draft tokens
  expect(r.stdout).toMatch(/median \d+\.\d+ ms per decode step/);
});
