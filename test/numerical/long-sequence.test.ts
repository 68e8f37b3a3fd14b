// A long sequence (B=1, L=8192, E=512, H=8) in a child process of its own: the engine
// never materialises an L×L score matrix (8192² floats = 256 MiB per head), so the peak
// resident memory grows by far less than that; the output is finite and a few rows match
// the float64 reference computed for those rows only.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MultiHeadAttention, type Weights } from '../../lib/index';
import { randomTensor, referenceMha, type RefMhaConfig } from '../helpers/reference';
import { expectClose } from '../helpers/layers';

const ROOT = path.resolve(__dirname, '../..');
// The compiled package, brought up to date by test/global-setup.ts (or the ASan script's own).
const DIST = path.join(process.env.NATIVE_ATTENTION_DIST ?? path.join(ROOT, 'dist'), 'index.js');
const CHILD = path.join(ROOT, 'test', 'helpers', 'long-sequence-child.cjs');

const L = 8192;
const E = 512;
const H = 8;
const ROWS = [0, 1, 2731, 8191];
const MiB = 1024;

describe(`long sequence: B=1 L=${L} E=${E} H=${H}`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'na-long-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('peak RSS grows < 200 MiB (one L×L score matrix is 256 MiB); rows match the reference', () => {
    expect(fs.existsSync(DIST), `${DIST} is missing: the global setup builds it`).toBe(true);

    // Inputs and weights, with random non-zero biases, written for the child.
    const layer = new MultiHeadAttention({ embedDim: E, numHeads: H, seed: 2 });
    const shapes = layer.weightShapes();
    const weights: Weights = layer.getWeights();
    for (const [n, name] of (['bq', 'bk', 'bv', 'bo'] as const).entries())
      weights[name] = randomTensor(shapes[name]!, 10 + n, 0.5);
    const query = randomTensor([1, L, E], 3, 1);
    const parts = [query.data, ...(['wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo'] as const).map((n) => weights[n]!.data)];
    const file = path.join(dir, 'input.bin');
    fs.writeFileSync(file, Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));

    const stdout = execFileSync(process.execPath, [CHILD, DIST, file, String(L), String(E), String(H), ROWS.join(',')], {
      encoding: 'utf8',
      timeout: 150_000,
      maxBuffer: 64 << 20,
    });
    const r = JSON.parse(stdout) as {
      baseRss: number;
      baseMaxRss: number;
      peakMaxRss: number;
      ms: number;
      finite: boolean;
      shape: number[];
      rows: number[][];
    };
    // Measured from the resident size right before the call (not the earlier high-water
    // mark, which could hide part of the growth).
    const growth = r.peakMaxRss - r.baseRss;
    console.log(
      `L=${L}: forward ${(r.ms / 1000).toFixed(2)} s; RSS before ${(r.baseRss / MiB).toFixed(0)} MiB, ` +
        `peak ${(r.peakMaxRss / MiB).toFixed(0)} MiB, growth ${(growth / MiB).toFixed(1)} MiB ` +
        `(one ${L}×${L} float matrix: ${((L * L * 4) / 2 ** 20).toFixed(0)} MiB)`,
    );
    expect(r.shape).toEqual([1, L, E]);
    expect(r.finite, 'output has non-finite values').toBe(true);
    expect(growth / MiB).toBeLessThan(200);

    const config: RefMhaConfig = {
      embedDim: E,
      numHeads: H,
      keyDim: E / H,
      valueDim: E / H,
      kdim: E,
      vdim: E,
      outputDim: E,
      useBias: true,
      scale: 1 / Math.sqrt(E / H),
    };
    const ref = referenceMha(weights, config, query, null, null, { rows: ROWS }).output;
    for (const [n, row] of ROWS.entries()) expectClose(r.rows[n]!, ref.subarray(n * E, (n + 1) * E), 1e-5, `row ${row}`);
  }, 180_000);
});
