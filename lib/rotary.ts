// Rotary position embeddings: the layer option, checked, and the per-pair frequencies the
// native side rotates by (any long-context scaling is applied here, once, in float64).
import { describe, rangeError, typeError } from './errors';
import { checkBoolean, checkOptionsObject, optionKeys } from './validate';

/** Long-context position scaling of the rotary frequencies (Hugging Face's rope_scaling). */
export type RotaryScaling =
  /** Positions divided by `factor` (HF rope_type "linear"). */
  | { type: 'linear'; factor: number }
  /**
   * Llama 3.1's frequency-dependent scaling (HF rope_type "llama3"): wavelengths longer than
   * originalMaxPositions / lowFreqFactor are divided by `factor`, shorter than
   * originalMaxPositions / highFreqFactor kept, those between interpolated smoothly.
   */
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface RotaryOptions {
  /** Features rotated per head: even, at most keyDim (default keyDim). Partial rotary below keyDim. */
  dim?: number;
  /** Frequency base (HF rope_theta; default 10000). */
  base?: number;
  /**
   * false (default): pairs (i, i + dim/2), "rotate-half" (HF LLaMA, Mistral, Qwen, GPT-NeoX).
   * true: adjacent pairs (2i, 2i + 1) (GPT-J, Meta's original LLaMA checkpoints).
   */
  interleaved?: boolean;
  /** Long-context scaling (default none). */
  scaling?: RotaryScaling | null;
}

/** The rotary settings as resolved, with every default filled in. */
export interface Rotary {
  readonly dim: number;
  readonly base: number;
  readonly interleaved: boolean;
  readonly scaling: Readonly<RotaryScaling> | null;
}

const ROTARY_OPTIONS = optionKeys<RotaryOptions>()({ dim: true, base: true, interleaved: true, scaling: true });

function positive(arg: string, value: unknown): number {
  if (typeof value !== 'number') throw typeError(arg, 'a positive finite number', value);
  if (!(value > 0 && Number.isFinite(value))) throw rangeError(arg, 'a positive finite number', describe(value));
  return value;
}

function resolveScaling(value: unknown): RotaryScaling | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw typeError('rotary.scaling', 'a scaling object or null', value);
  const type = (value as { type?: unknown }).type;
  if (type === 'linear') {
    const o = checkOptionsObject('rotary.scaling', value, ['type', 'factor']);
    return { type, factor: positive('rotary.scaling.factor', o.factor) };
  }
  if (type === 'llama3') {
    const keys = ['type', 'factor', 'lowFreqFactor', 'highFreqFactor', 'originalMaxPositions'];
    const o = checkOptionsObject('rotary.scaling', value, keys);
    const s = {
      type,
      factor: positive('rotary.scaling.factor', o.factor),
      lowFreqFactor: positive('rotary.scaling.lowFreqFactor', o.lowFreqFactor),
      highFreqFactor: positive('rotary.scaling.highFreqFactor', o.highFreqFactor),
      originalMaxPositions: positive('rotary.scaling.originalMaxPositions', o.originalMaxPositions),
    } as const;
    if (!(s.highFreqFactor > s.lowFreqFactor)) {
      throw rangeError('rotary.scaling.highFreqFactor', `more than lowFreqFactor (${s.lowFreqFactor})`, `${s.highFreqFactor}`);
    }
    return s;
  }
  throw typeError('rotary.scaling.type', "'linear' or 'llama3'", type);
}

/** The `rotary` layer option (undefined/null: none) for heads of keyDim features. */
export function resolveRotary(value: unknown, keyDim: number): Rotary | null {
  if (value === undefined || value === null) return null;
  const o = checkOptionsObject('rotary', value, ROTARY_OPTIONS);
  const dim = o.dim === undefined ? keyDim : o.dim;
  if (typeof dim !== 'number') throw typeError('rotary.dim', 'an even integer', dim);
  if (!Number.isInteger(dim) || dim < 2 || dim > keyDim || dim % 2 !== 0) {
    const hint = o.dim === undefined ? ' (set rotary.dim: the default is keyDim, which is odd)' : '';
    throw rangeError('rotary.dim', `an even integer in [2, keyDim = ${keyDim}]${hint}`, describe(dim));
  }
  const base = o.base === undefined ? 10000 : positive('rotary.base', o.base);
  const interleaved = checkBoolean('rotary.interleaved', o.interleaved, false);
  const scaling = resolveScaling(o.scaling);
  return Object.freeze({ dim, base, interleaved, scaling: scaling && Object.freeze(scaling) });
}

/** Pair i's angular frequency (radians per position): base^(-2i/dim), then scaled. */
export function rotaryFrequencies(r: Rotary): Float64Array {
  const f = new Float64Array(r.dim / 2);
  for (let i = 0; i < f.length; i++) f[i] = 1 / r.base ** ((2 * i) / r.dim);
  const s = r.scaling;
  if (s?.type === 'linear') {
    for (let i = 0; i < f.length; i++) f[i]! /= s.factor;
  } else if (s?.type === 'llama3') {
    const lowWavelength = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelength = s.originalMaxPositions / s.highFreqFactor;
    for (let i = 0; i < f.length; i++) {
      const wavelength = (2 * Math.PI) / f[i]!;
      if (wavelength > lowWavelength) f[i]! /= s.factor;
      else if (wavelength >= highWavelength) {
        const smooth = (s.originalMaxPositions / wavelength - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f[i] = (1 - smooth) * (f[i]! / s.factor) + smooth * f[i]!;
      }
    }
  }
  return f;
}
