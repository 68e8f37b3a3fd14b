// MultiHeadAttention: the layer Keras, PyTorch and ONNX users know, computed natively.
import type { ForwardArgs } from '../binding';
import {
  type AttentionOptions,
  integerArray,
  type ResolvedOptions,
  resolveAttentionOptions,
  resolveSequenceLengths,
} from './attention-options';
import { runAsync, tensorResult } from './async';
import { AttentionCache, nativeCacheFor } from './attention-cache';
import { native, type NativeLayer } from './binding';
import { rangeError, shapeError, typeError } from './errors';
import { sizeOf } from './layout';
import { MAX_BLAS_INT, MAX_PARAMETERS } from './limits';
import { glorotUniform, mulberry32 } from './random';
import { type Rotary, type RotaryOptions, resolveRotary, rotaryFrequencies } from './rotary';
import type { Tensor } from './tensor';
import {
  checkBoolean,
  checkFloat32,
  checkInteger,
  checkLayerDim,
  checkOptionsObject,
  checkTensor,
  expectShape,
  optionKeys,
  outputArray,
} from './validate';

export interface MultiHeadAttentionOptions {
  /** E: feature size of the query. */
  embedDim: number;
  /** H: number of (query) heads. */
  numHeads: number;
  /**
   * Key/value heads (default numHeads; must divide it): grouped-query attention. Query
   * head h reads key/value head floor(h / (numHeads / numKvHeads)) — the repeat_interleave
   * convention of Hugging Face and PyTorch; 1 is multi-query attention. wk and wv are then
   * [kdim, numKvHeads·keyDim] and [vdim, numKvHeads·valueDim]; nothing is expanded.
   */
  numKvHeads?: number;
  /** Per-head size of queries and keys (default embedDim / numHeads, which must divide). */
  keyDim?: number;
  /** Per-head size of values (default keyDim). */
  valueDim?: number;
  /** Feature size of the key input (default embedDim). */
  kdim?: number;
  /** Feature size of the value input (default embedDim). */
  vdim?: number;
  /** Output feature size (default embedDim). */
  outputDim?: number;
  /** Learnable biases on every projection (default true). */
  useBias?: boolean;
  /** Softmax scale (default 1/√keyDim). */
  scale?: number;
  /** Seed for deterministic Glorot-uniform weights (biases start at zero). */
  seed?: number;
  /**
   * Rotary position embeddings, applied to queries and keys after their projection (and
   * bias), before the scores. Positions: keys 0, 1, …; queries aligned with the last keys
   * (query i at i + Lk − Lq, as `causal` aligns them); with packed sequences, each sequence
   * from 0; with a cache, each row from the tokens it already holds.
   */
  rotary?: RotaryOptions | null;
  /**
   * Sliding-window attention (Mistral): each query sees at most this many keys, ending at its
   * causal limit (itself included). Such a layer is causal: every forward attends causally.
   */
  slidingWindow?: number | null;
}

export type { Rotary, RotaryOptions, RotaryScaling } from './rotary';
export { AttentionCache, type AttentionCacheSizes } from './attention-cache';

export interface CacheOptions {
  /** Cache rows: sequences held at once. */
  batch: number;
  /** Tokens each row can hold; appending past it is a RangeError. */
  maxLength: number;
}

export type { WeightName } from '../binding';
import type { WeightName } from '../binding';
export const WEIGHT_NAMES: readonly WeightName[] = ['wq', 'bq', 'wk', 'bk', 'wv', 'bv', 'wo', 'bo'];
export type Weights = Partial<Record<WeightName, Tensor>>;

export interface ForwardOptions extends AttentionOptions {
  /**
   * Packed sequences: `query` is unbatched, [T, E], holding consecutive sequences of these
   * lengths (summing to T); each attends only within itself (block-diagonal attention,
   * `causal` per sequence), and no padding is projected or attended. The output is
   * [T, outputDim], rows in the same order. A mask broadcasts over [1, H, T, T].
   */
  sequenceLengths?: Int32Array | readonly number[] | null;
  /**
   * Decoding: append the query's tokens to this cache (from this layer's createCache) and
   * attend over everything the row holds, causally. `key` and `value` must be null. The
   * query [B, T, E] holds T new tokens for each of B cache rows (rotated at positions
   * lengths[b], …, lengths[b] + T − 1); unbatched [T, E] with `sequenceLengths`, a different
   * number of tokens per row. No mask or keyLengths.
   */
  cache?: AttentionCache | null;
  /**
   * With a cache: the cache row each batch row (or packed sequence) appends to, distinct
   * (default: 0, 1, …, which must then cover every cache row). Lets a server step any subset
   * of its sequences (continuous batching).
   */
  cacheRows?: Int32Array | readonly number[] | null;
  /** Write the output here instead of allocating ([B, Lq, outputDim] elements). */
  out?: Float32Array;
}

export interface WeightsOptions extends ForwardOptions {
  /** Return weights averaged over heads, [B, Lq, Lk], instead of [B, H, Lq, Lk]. */
  averageHeads?: boolean;
}

export interface OutputWithWeights {
  output: Tensor;
  /** Attention probabilities: [B, H, Lq, Lk], or [B, Lq, Lk] with averageHeads. */
  weights: Tensor;
}

/** What a call returns, kept apart from its arguments: an async call holds only this. */
interface Outputs {
  out: Float32Array;
  outputShape: number[];
  weightsOut: Float32Array | null;
  batched: boolean;
  B: number;
  Lq: number;
  Lk: number;
}

/** One call's arguments for the binding, and what it returns. */
interface PreparedCall {
  args: ForwardArgs;
  outputs: Outputs;
}

const FORWARD_KEYS = {
  mask: true,
  causal: true,
  keyLengths: true,
  sequenceLengths: true,
  cache: true,
  cacheRows: true,
  out: true,
} as const;
const FORWARD_OPTIONS = optionKeys<ForwardOptions>()(FORWARD_KEYS);
const WEIGHTS_OPTIONS = optionKeys<WeightsOptions>()({ ...FORWARD_KEYS, averageHeads: true });
const CACHE_OPTIONS = optionKeys<CacheOptions>()({ batch: true, maxLength: true });
const LAYER_OPTIONS = optionKeys<MultiHeadAttentionOptions>()({
  embedDim: true,
  numHeads: true,
  numKvHeads: true,
  keyDim: true,
  valueDim: true,
  kdim: true,
  vdim: true,
  outputDim: true,
  useBias: true,
  scale: true,
  seed: true,
  rotary: true,
  slidingWindow: true,
});

function optionalDim(options: Readonly<Record<string, unknown>>, name: string, fallback: number): number {
  return checkLayerDim(name, options[name] === undefined ? fallback : options[name]);
}

export class MultiHeadAttention {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly outputDim: number;
  readonly useBias: boolean;
  readonly scale: number;
  /** Rotary settings with defaults filled in, or null. */
  readonly rotary: Rotary | null;
  /** The sliding window, or null. */
  readonly slidingWindow: number | null;
  readonly #layer: NativeLayer;
  readonly #shapes: Record<WeightName, number[]>;

  constructor(options: MultiHeadAttentionOptions) {
    if (options === undefined || options === null) throw typeError('MultiHeadAttention: options', 'an options object', options);
    const o = checkOptionsObject('MultiHeadAttention: options', options, LAYER_OPTIONS);
    this.embedDim = checkLayerDim('embedDim', o.embedDim);
    this.numHeads = checkLayerDim('numHeads', o.numHeads);
    this.numKvHeads = optionalDim(o, 'numKvHeads', this.numHeads);
    if (this.numHeads % this.numKvHeads !== 0) {
      throw rangeError('numKvHeads', `a divisor of numHeads (${this.numHeads})`, `${this.numKvHeads}`);
    }
    if (o.keyDim === undefined && this.embedDim % this.numHeads !== 0) {
      throw rangeError('numHeads', `a divisor of embedDim (${this.embedDim}) when keyDim is not given`, `${this.numHeads}`);
    }
    this.keyDim = optionalDim(o, 'keyDim', this.embedDim / this.numHeads);
    this.valueDim = optionalDim(o, 'valueDim', this.keyDim);
    this.kdim = optionalDim(o, 'kdim', this.embedDim);
    this.vdim = optionalDim(o, 'vdim', this.embedDim);
    this.outputDim = optionalDim(o, 'outputDim', this.embedDim);
    this.useBias = checkBoolean('useBias', o.useBias, true);
    this.scale = o.scale === undefined ? 1 / Math.sqrt(this.keyDim) : checkFloat32('scale', o.scale);
    this.rotary = resolveRotary(o.rotary, this.keyDim);
    this.slidingWindow =
      o.slidingWindow === undefined || o.slidingWindow === null ? null : checkLayerDim('slidingWindow', o.slidingWindow);
    if (this.slidingWindow !== null && (this.kdim !== this.embedDim || this.vdim !== this.embedDim)) {
      throw rangeError('slidingWindow', 'self-attention sizes (kdim = vdim = embedDim)', `kdim ${this.kdim}, vdim ${this.vdim}`);
    }
    const seed = o.seed === undefined ? (Math.random() * 2 ** 32) >>> 0 : checkInteger('seed', o.seed);
    const hk = this.numHeads * this.keyDim;
    const hv = this.numHeads * this.valueDim;
    const kvk = this.numKvHeads * this.keyDim;
    const kvv = this.numKvHeads * this.valueDim;
    // The native layer re-checks both; here the message can name the options involved.
    const inWidth = this.numHeads * (2 * this.keyDim + this.valueDim);
    if (inWidth > MAX_BLAS_INT) {
      throw rangeError('numHeads · (2·keyDim + valueDim)', `at most ${MAX_BLAS_INT} (BLAS's 32-bit int)`, `${inWidth}`);
    }
    const parameters = this.embedDim * hk + this.kdim * kvk + this.vdim * kvv + this.outputDim * hv;
    if (parameters > MAX_PARAMETERS) {
      throw rangeError(
        'MultiHeadAttention: options',
        `at most ${MAX_PARAMETERS} weights (8 GiB)`,
        `${parameters} for these sizes`,
      );
    }
    this.#shapes = {
      wq: [this.embedDim, hk],
      bq: [hk],
      wk: [this.kdim, kvk],
      bk: [kvk],
      wv: [this.vdim, kvv],
      bv: [kvv],
      wo: [hv, this.outputDim],
      bo: [this.outputDim],
    };
    this.#layer = new native.MultiHeadAttention({
      embedDim: this.embedDim,
      numHeads: this.numHeads,
      numKvHeads: this.numKvHeads,
      keyDim: this.keyDim,
      valueDim: this.valueDim,
      kdim: this.kdim,
      vdim: this.vdim,
      outputDim: this.outputDim,
      useBias: this.useBias,
      scale: this.scale,
      rotaryDim: this.rotary ? this.rotary.dim : 0,
      rotaryInterleaved: this.rotary ? this.rotary.interleaved : false,
      rotaryInvFreq: this.rotary ? rotaryFrequencies(this.rotary) : null,
      slidingWindow: this.slidingWindow ?? 0,
    });
    const next = mulberry32(seed);
    for (const name of ['wq', 'wk', 'wv', 'wo'] as const) {
      const [rows, cols] = this.#shapes[name] as [number, number];
      this.#layer.setWeight({ name, data: glorotUniform(rows, cols, next) });
    }
  }

  /**
   * A key/value cache for decoding with this layer: native memory for `batch` sequences of up
   * to `maxLength` tokens ([batch, numKvHeads, maxLength, keyDim + valueDim] floats),
   * allocated once; appends never reallocate. Needs self-attention sizes (kdim = vdim =
   * embedDim). Its keys are this layer's: setWeights does not update what it holds.
   */
  createCache(options: CacheOptions): AttentionCache {
    if (options === undefined || options === null) throw typeError('createCache: options', '{ batch, maxLength }', options);
    const o = checkOptionsObject('createCache: options', options, CACHE_OPTIONS);
    const batch = checkLayerDim('batch', o.batch);
    const maxLength = checkLayerDim('maxLength', o.maxLength);
    if (this.kdim !== this.embedDim || this.vdim !== this.embedDim) {
      throw rangeError('createCache', 'a self-attention layer (kdim = vdim = embedDim)', `kdim ${this.kdim}, vdim ${this.vdim}`);
    }
    const { numKvHeads, keyDim, valueDim } = this;
    return AttentionCache.create(this, this.#layer, { batch, maxLength, numKvHeads, keyDim, valueDim });
  }

  /** Names of this layer's weights (biases only when useBias). */
  get weightNames(): WeightName[] {
    return WEIGHT_NAMES.filter((n) => this.useBias || n[0] === 'w');
  }

  /** The shape of each weight, in y = x·W + b orientation with head-major columns. */
  weightShapes(): Partial<Record<WeightName, number[]>> {
    const out: Partial<Record<WeightName, number[]>> = {};
    for (const n of this.weightNames) out[n] = [...this.#shapes[n]];
    return out;
  }

  /** Copies of the weights. */
  getWeights(): Weights {
    const out: Weights = {};
    for (const n of this.weightNames) {
      const shape = [...this.#shapes[n]];
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      this.#layer.getWeight({ name: n, out: data });
      out[n] = { data, shape };
    }
    return out;
  }

  /**
   * Replaces some or all weights (copied in). All are checked before any is applied,
   * so a bad entry leaves the layer unchanged.
   */
  setWeights(weights: Weights): void {
    if (typeof weights !== 'object' || weights === null || Array.isArray(weights) || ArrayBuffer.isView(weights)) {
      throw typeError('setWeights: weights', 'an object of tensors keyed by weight name', weights);
    }
    const names = this.weightNames;
    const entries: [WeightName, Float32Array][] = [];
    for (const key of Object.keys(weights)) {
      if (!(names as string[]).includes(key)) {
        const hint = !this.useBias && (WEIGHT_NAMES as string[]).includes(key) ? ' (this layer has useBias: false)' : '';
        throw rangeError('setWeights', `a weight name among ${names.join(', ')}${hint}`, JSON.stringify(key));
      }
      const name = key as WeightName;
      const value = (weights as Record<string, unknown>)[key];
      const shape = checkTensor(`setWeights: ${name}`, value, [this.#shapes[name].length]);
      expectShape(`setWeights: ${name}`, shape, this.#shapes[name]);
      entries.push([name, (value as Tensor).data]);
    }
    for (const [name, data] of entries) this.#layer.setWeight({ name, data });
  }

  /** query [B, Lq, E] (or unbatched [Lq, E]); key/value default to query/key. → [B, Lq, outputDim]. */
  forward(query: Tensor, key?: Tensor | null, value?: Tensor | null, options?: ForwardOptions): Tensor {
    const { args, outputs } = this.#prepare(query, key, value, options, false);
    this.#layer.forward(args);
    return { data: outputs.out, shape: outputs.outputShape };
  }

  /**
   * forward() computed off the JavaScript thread. The inputs and the weights are taken
   * as they are at this call (later changes to them, or setWeights, do not affect it,
   * and the call keeps no reference to them); the output is written when the Promise
   * resolves.
   */
  forwardAsync(query: Tensor, key?: Tensor | null, value?: Tensor | null, options?: ForwardOptions): Promise<Tensor> {
    return runAsync(() => {
      const { args, outputs } = this.#prepare(query, key, value, options, false);
      return [this.#layer.forwardAsync(args), tensorResult(outputs.out, outputs.outputShape)];
    });
  }

  /** forward() that also returns the attention probabilities. */
  forwardWithWeights(query: Tensor, key?: Tensor | null, value?: Tensor | null, options?: WeightsOptions): OutputWithWeights {
    const { args, outputs } = this.#prepare(query, key, value, options, true);
    this.#layer.forward(args);
    return this.#withWeights(outputs, options?.averageHeads === true);
  }

  forwardWithWeightsAsync(
    query: Tensor,
    key?: Tensor | null,
    value?: Tensor | null,
    options?: WeightsOptions,
  ): Promise<OutputWithWeights> {
    return runAsync(() => {
      const { args, outputs } = this.#prepare(query, key, value, options, true);
      const average = options?.averageHeads === true;
      return [this.#layer.forwardAsync(args), this.#weightsResult(outputs, average)];
    });
  }

  // Made here, not inline in forwardWithWeightsAsync: a closure there would keep that
  // call's inputs reachable until it settles (see tensorResult).
  #weightsResult(outputs: Outputs, average: boolean): () => OutputWithWeights {
    return () => this.#withWeights(outputs, average);
  }

  #withWeights(outputs: Outputs, average: boolean): OutputWithWeights {
    const { B, Lq, Lk, out, weightsOut, batched } = outputs;
    const weights = weightsOut as Float32Array;
    const H = this.numHeads;
    const output = { data: out, shape: outputs.outputShape };
    // averageHeads was validated by #prepare.
    if (!average) return { output, weights: { data: weights, shape: batched ? [B, H, Lq, Lk] : [H, Lq, Lk] } };
    const plane = Lq * Lk;
    const mean = new Float32Array(B * plane);
    for (let b = 0; b < B; b++) {
      const dst = mean.subarray(b * plane, (b + 1) * plane);
      for (let h = 0; h < H; h++) {
        const src = weights.subarray((b * H + h) * plane, (b * H + h + 1) * plane);
        for (let i = 0; i < plane; i++) dst[i]! += src[i]!;
      }
      for (let i = 0; i < plane; i++) dst[i]! /= H;
    }
    return { output, weights: { data: mean, shape: batched ? [B, Lq, Lk] : [Lq, Lk] } };
  }

  #prepare(
    query: Tensor,
    key: Tensor | null | undefined,
    value: Tensor | null | undefined,
    options: ForwardOptions | WeightsOptions | undefined,
    withWeights: boolean,
  ): PreparedCall {
    const o = checkOptionsObject('options', options, withWeights ? WEIGHTS_OPTIONS : FORWARD_OPTIONS);
    if (o.cache !== undefined && o.cache !== null) return this.#prepareCached(query, key, value, o, withWeights);
    if (o.cacheRows !== undefined && o.cacheRows !== null) throw typeError('cacheRows', 'null without a cache', o.cacheRows);
    const { qs, batched, B, L: Lq } = this.#query(query, 'Lq');
    const k = key ?? query;
    const v = value ?? k;
    const ks = k === query ? qs : checkTensor('key', k, [qs.length]);
    const Lk = ks[ks.length - 2]!;
    expectShape('key', ks, batched ? [B, 'Lk', this.kdim] : ['Lk', this.kdim]);
    const vs = v === k ? ks : checkTensor('value', v, [qs.length]);
    expectShape('value', vs, batched ? [B, Lk, this.vdim] : [Lk, this.vdim]);

    if (withWeights) {
      checkBoolean('averageHeads', o.averageHeads, false);
      if (this.numKvHeads !== this.numHeads) {
        throw new TypeError(
          `forwardWithWeights: not available on a grouped-query layer (numKvHeads ${this.numKvHeads} < numHeads ${this.numHeads})`,
        );
      }
    }
    const r = this.#causalIfWindowed(resolveAttentionOptions(o, B, this.numHeads, Lq, Lk), o);
    let sequenceLengths: Int32Array | null = null;
    if (o.sequenceLengths !== undefined && o.sequenceLengths !== null) {
      if (withWeights) throw typeError('sequenceLengths', 'no packed sequences in forwardWithWeights', o.sequenceLengths);
      sequenceLengths = resolveSequenceLengths(o.sequenceLengths, batched ? qs : null, Lq, Lk, r.keyLengths !== null);
    }
    const out = outputArray('out', o.out, B * Lq * this.outputDim, () => [
      ['query', query.data],
      ['key', k.data],
      ['value', v.data],
      ['mask', r.mask],
      ['keyLengths', r.keyLengths],
      ['sequenceLengths', sequenceLengths],
    ]);
    const weightsOut = withWeights ? new Float32Array(sizeOf([B, this.numHeads, Lq, Lk], 'attention weights')) : null;
    return {
      args: {
        query: query.data,
        key: k.data,
        value: v.data,
        batch: B,
        queryLength: Lq,
        keyLength: Lk,
        sequenceLengths,
        cache: null,
        cacheRows: null,
        mask: r.mask,
        maskStrides: r.maskStrides,
        causal: r.causal,
        keyLengths: r.keyLengths,
        out,
        weightsOut,
      },
      outputs: { out, outputShape: batched ? [B, Lq, this.outputDim] : [Lq, this.outputDim], weightsOut, batched, B, Lq, Lk },
    };
  }

  /** The query's shape: [B, L, E] or unbatched [L, E] (B = 1); `rows` names L in messages. */
  #query(query: Tensor, rows: string) {
    const qs = checkTensor('query', query, [2, 3]);
    const batched = qs.length === 3;
    if (qs[qs.length - 1] !== this.embedDim) {
      throw shapeError('query', batched ? ['B', rows, this.embedDim] : [rows, this.embedDim], qs);
    }
    return { qs, batched, B: batched ? qs[0]! : 1, L: qs[qs.length - 2]! };
  }

  /** A sliding-window layer attends causally: `causal` may be omitted, not false. */
  #causalIfWindowed(r: Readonly<ResolvedOptions>, o: Readonly<Record<string, unknown>>): Readonly<ResolvedOptions> {
    if (this.slidingWindow === null || r.causal) return r;
    if (o.causal === false) throw rangeError('causal', 'true or omitted: this layer has a sliding window', 'false');
    return { ...r, causal: true };
  }

  /** forward with a cache: the query's tokens are appended, key and value are the query. */
  #prepareCached(
    query: Tensor,
    key: Tensor | null | undefined,
    value: Tensor | null | undefined,
    o: Readonly<Record<string, unknown>>,
    withWeights: boolean,
  ): PreparedCall {
    const cache = nativeCacheFor(o.cache, this);
    if (cache === undefined) throw typeError('cache', 'an AttentionCache (from createCache) or null', o.cache);
    if (cache === null) throw rangeError('cache', "a cache made by this layer's createCache", 'one made by another layer');
    if (withWeights) throw typeError('cache', 'no cache in forwardWithWeights', o.cache);
    if ((key !== undefined && key !== null) || (value !== undefined && value !== null)) {
      throw typeError(
        key !== undefined && key !== null ? 'key' : 'value',
        'null with a cache (it holds the keys and values)',
        key ?? value,
      );
    }
    for (const name of ['mask', 'keyLengths'] as const) {
      if (o[name] !== undefined && o[name] !== null) throw typeError(name, 'null with a cache', o[name]);
    }
    if (o.causal === false) throw rangeError('causal', 'true or omitted with a cache (new tokens attend causally)', 'false');
    checkBoolean('causal', o.causal, true);
    const { qs, batched, B, L: T } = this.#query(query, 'T');
    const { batch } = o.cache as AttentionCache;
    let sequenceLengths: Int32Array | null = null;
    if (o.sequenceLengths !== undefined && o.sequenceLengths !== null) {
      sequenceLengths = resolveSequenceLengths(o.sequenceLengths, batched ? qs : null, T, T, false);
    }
    const segments = sequenceLengths ? sequenceLengths.length : B;
    const unit = sequenceLengths ? 'sequence' : 'batch row';
    let cacheRows: Int32Array | null = null;
    if (o.cacheRows !== undefined && o.cacheRows !== null) {
      cacheRows = integerArray('cacheRows', o.cacheRows, 0, batch - 1);
      if (cacheRows.length !== segments)
        throw rangeError('cacheRows', `${segments} entries (one per ${unit})`, `${cacheRows.length}`);
      const seen = new Set<number>();
      for (let i = 0; i < cacheRows.length; i++) {
        if (seen.has(cacheRows[i]!)) throw rangeError(`cacheRows[${i}]`, 'distinct cache rows', `row ${cacheRows[i]} again`);
        seen.add(cacheRows[i]!);
      }
    } else if (segments !== batch) {
      throw rangeError(
        'cacheRows',
        `an array of the cache rows to append to (the call has ${segments} ${unit}s, the cache ${batch} rows)`,
        'none',
      );
    }
    const out = outputArray('out', o.out, B * T * this.outputDim, () => [
      ['query', query.data],
      ['sequenceLengths', sequenceLengths],
      ['cacheRows', cacheRows],
    ]);
    return {
      args: {
        query: query.data,
        key: query.data,
        value: query.data,
        batch: B,
        queryLength: T,
        keyLength: T,
        sequenceLengths,
        cache: cache.raw,
        cacheRows,
        mask: null,
        maskStrides: [0, 0, 0, 0],
        causal: true,
        keyLengths: null,
        out,
        weightsOut: null,
      },
      outputs: {
        out,
        outputShape: batched ? [B, T, this.outputDim] : [T, this.outputDim],
        weightsOut: null,
        batched,
        B,
        Lq: T,
        Lk: T,
      },
    };
  }
}
