// Shared pieces of the property-based tests: arbitraries for attention problems and a
// seeded layer with random biases, compared against test/helpers/reference.ts (float64).
import fc from 'fast-check';
import { getNumThreads, MultiHeadAttention, setNumThreads, type MaskTensor, type Weights } from '../../lib/index';
import { randomTensor, rng, type RefMhaConfig } from '../helpers/reference';
import { refConfig } from '../helpers/layers';

/** float32 kernel vs float64 reference, relative L2 error over a whole output. */
export const FUZZ_TOL = 5e-5;

/** Runs per property; FUZZ_RUNS scales them (e.g. FUZZ_RUNS=10 for a long soak). */
export function runs(n: number): number {
  const scale = Number(process.env.FUZZ_RUNS ?? '1');
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/** fc.assert parameters: FUZZ_SEED replays a failure that fast-check reported. */
export function params(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  return { numRuns: runs(numRuns), ...(seed !== undefined ? { seed } : {}), endOnFailure: false };
}

export type MaskKind = 'none' | 'bool' | 'additive';

/**
 * A mask shape broadcastable to [B, H, Lq, Lk]: the last `rank` axes, each either full
 * or 1 (numpy rules, missing leading axes broadcast).
 */
export const maskLayoutArb = fc.record({
  kind: fc.constantFrom<MaskKind>('none', 'bool', 'additive'),
  rank: fc.integer({ min: 0, max: 4 }),
  full: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean()),
  /** Probability that an element masks its key out. */
  pMasked: fc.constantFrom(0, 0.2, 0.5, 0.95, 1),
});
export type MaskLayout = typeof maskLayoutArb extends fc.Arbitrary<infer T> ? T : never;

export function maskShape(layout: MaskLayout, target: readonly [number, number, number, number]): number[] {
  const shape: number[] = [];
  for (let a = 4 - layout.rank; a < 4; a++) shape.push(layout.full[a] ? target[a]! : 1);
  return shape;
}

/** Mask data for `shape`: bool 0/1, or additive -Infinity / finite biases in ±2. */
export function makeMask(layout: MaskLayout, shape: number[], seed: number): MaskTensor | null {
  if (layout.kind === 'none') return null;
  const n = shape.reduce((a, b) => a * b, 1);
  const next = rng(seed);
  if (layout.kind === 'bool') {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = next() < layout.pMasked ? 0 : 1;
    return { data, shape };
  }
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = next() < layout.pMasked ? -Infinity : (2 * next() - 1) * 2;
  return { data, shape };
}

export function makeKeyLengths(B: number, Lk: number, seed: number): Int32Array {
  const next = rng(seed);
  const out = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const u = next();
    out[b] = u < 0.15 ? 0 : u < 0.3 ? Lk : Math.floor(next() * (Lk + 1));
  }
  return out;
}

/** A layer with seeded Glorot weights plus random biases, and its reference config. */
export function buildLayer(config: Omit<RefMhaConfig, 'scale'> & { scale?: number }, seed: number) {
  const layer = new MultiHeadAttention({
    embedDim: config.embedDim,
    numHeads: config.numHeads,
    keyDim: config.keyDim,
    valueDim: config.valueDim,
    kdim: config.kdim,
    vdim: config.vdim,
    outputDim: config.outputDim,
    useBias: config.useBias,
    ...(config.scale !== undefined ? { scale: config.scale } : {}),
    seed,
  });
  if (layer.useBias) {
    const shapes = layer.weightShapes();
    const biases: Weights = {};
    for (const [i, name] of (['bq', 'bk', 'bv', 'bo'] as const).entries())
      biases[name] = randomTensor(shapes[name]!, seed * 7 + i, 0.5);
    layer.setWeights(biases);
  }
  return { layer, weights: layer.getWeights(), config: refConfig(layer) };
}

/** Runs `fn` with the pool at `n` threads, restoring the previous count after. */
export async function withThreads<T>(n: number, fn: () => T | Promise<T>): Promise<T> {
  const before = getNumThreads();
  setNumThreads(n);
  try {
    return await fn();
  } finally {
    setNumThreads(before);
  }
}

/** Where two arrays first differ by more than `tol` relative to the reference's scale. */
export function describeMismatch(actual: ArrayLike<number>, ref: ArrayLike<number>): string {
  let scale = 0;
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]!));
  for (let i = 0; i < ref.length; i++) {
    const a = actual[i]!;
    const r = ref[i]!;
    if (Number.isNaN(a) !== Number.isNaN(r) || Math.abs(a - r) > 1e-3 * Math.max(scale, 1e-6))
      return `first mismatch at ${i}: ${a} vs ${r}`;
  }
  return 'no element differs by more than 1e-3 of the scale';
}
