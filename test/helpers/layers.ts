// Building layers for the numerical tests: a seeded MultiHeadAttention with random,
// non-zero biases (a zero bias would hide a bias that is never added), and its
// configuration in the shape the float64 reference takes.
import { expect } from 'vitest';
import { MultiHeadAttention, type MultiHeadAttentionOptions, type Weights } from '../../lib/index';
import { randomTensor, relErr, type RefMhaConfig } from './reference';

/** The tolerance every comparison against the float64 reference uses. */
export const TOL = 1e-5;

export function refConfig(layer: MultiHeadAttention): RefMhaConfig {
  return {
    embedDim: layer.embedDim,
    numHeads: layer.numHeads,
    numKvHeads: layer.numKvHeads,
    keyDim: layer.keyDim,
    valueDim: layer.valueDim,
    kdim: layer.kdim,
    vdim: layer.vdim,
    outputDim: layer.outputDim,
    useBias: layer.useBias,
    scale: layer.scale,
    rotary: layer.rotary && { dim: layer.rotary.dim, base: layer.rotary.base, interleaved: layer.rotary.interleaved },
  };
}

/**
 * A layer with seeded Glorot weights and random biases in ±biasRange (set through
 * setWeights). Returns the layer, the weights it holds and its reference config.
 */
export function makeLayer(options: Omit<MultiHeadAttentionOptions, 'seed'>, seed: number, biasRange = 0.5) {
  const layer = new MultiHeadAttention({ ...options, seed });
  if (layer.useBias) {
    const shapes = layer.weightShapes();
    const biases: Weights = {};
    for (const name of ['bq', 'bk', 'bv', 'bo'] as const)
      biases[name] = randomTensor(shapes[name]!, seed * 31 + name.charCodeAt(1), biasRange);
    layer.setWeights(biases);
  }
  return { layer, weights: layer.getWeights(), config: refConfig(layer) };
}

/** relErr(actual, ref) <= tol, with the figure in the failure message. */
export function expectClose(actual: ArrayLike<number>, ref: ArrayLike<number>, tol = TOL, what = 'output'): void {
  expect(actual.length, `${what}: length`).toBe(ref.length);
  const e = relErr(actual, ref);
  expect(e, `${what}: relErr ${e.toExponential(2)} > ${tol}`).toBeLessThanOrEqual(tol);
}

export function expectFinite(data: ArrayLike<number>, what = 'output'): void {
  let bad = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      bad = i;
      break;
    }
  }
  expect(bad, `${what}: non-finite value ${bad >= 0 ? data[bad] : ''} at index ${bad}`).toBe(-1);
}

/** A Float32Array of n NaNs: an `out` array in which any cell left unwritten shows. */
export function poisoned(n: number): Float32Array {
  return new Float32Array(n).fill(NaN);
}

/** The same bits? (NaN-aware, for sync vs async comparisons.) */
export function expectIdentical(a: Float32Array, b: Float32Array, what = 'output'): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) {
      first = i;
      break;
    }
  }
  expect(first, `${what}: first difference at ${first} (${a[first]} vs ${b[first]})`).toBe(-1);
}

/**
 * Mask shapes that broadcast to [B, H, Lq, Lk] = [2, 3, 4, 5]: every pattern of missing
 * and size-1 axes the numerical suites check.
 */
export const MASK_SHAPES: readonly number[][] = [
  [5],
  [1],
  [4, 5],
  [1, 5],
  [4, 1],
  [3, 4, 5],
  [3, 1, 5],
  [3, 4, 1],
  [1, 4, 5],
  [2, 1, 1, 5],
  [2, 3, 4, 5],
  [2, 1, 4, 5],
  [1, 3, 1, 5],
  [1, 1, 4, 1],
  [2, 3, 1, 1],
  [1, 1, 1, 1],
  [1, 1, 1, 5],
];
