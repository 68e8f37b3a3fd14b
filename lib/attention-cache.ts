// AttentionCache: the keys and values a decoding layer has seen, per sequence, held in
// native memory allocated once. Made by MultiHeadAttention.createCache; appended to by
// forward(x, null, null, { cache }).
import { NativeCache, type NativeLayer } from './binding';
import { describe, rangeError, typeError } from './errors';

const natives = new WeakMap<AttentionCache, { native: NativeCache; owner: object }>();

/** A cache's sizes, as the layer that makes it knows them. */
export interface AttentionCacheSizes {
  batch: number;
  maxLength: number;
  numKvHeads: number;
  keyDim: number;
  valueDim: number;
}

export class AttentionCache {
  /** Cache rows: sequences it can hold at once. */
  readonly batch: number;
  /** Tokens each row can hold. */
  readonly maxLength: number;
  readonly numKvHeads: number;
  readonly keyDim: number;
  readonly valueDim: number;
  readonly #native: NativeCache;

  // Made only by MultiHeadAttention.createCache (through AttentionCache.create).
  private constructor(owner: object, layer: NativeLayer, sizes: AttentionCacheSizes) {
    this.batch = sizes.batch;
    this.maxLength = sizes.maxLength;
    this.numKvHeads = sizes.numKvHeads;
    this.keyDim = sizes.keyDim;
    this.valueDim = sizes.valueDim;
    this.#native = new NativeCache(layer, { batch: sizes.batch, maxLength: sizes.maxLength });
    natives.set(this, { native: this.#native, owner });
  }

  /** @internal A cache for `owner` (the lib layer) backed by its native layer. */
  static create(owner: object, layer: NativeLayer, sizes: AttentionCacheSizes): AttentionCache {
    return new AttentionCache(owner, layer, sizes);
  }

  /** Tokens held by each row (a copy). */
  get lengths(): Int32Array {
    const out = new Int32Array(this.batch);
    this.#native.getLengths({ lengths: out });
    return out;
  }

  /** Bytes of key and value memory ([batch, numKvHeads, maxLength, keyDim + valueDim] floats). */
  get byteLength(): number {
    return this.#native.byteLength();
  }

  /** True while a forwardAsync call that appends to this cache is in flight. */
  get busy(): boolean {
    return this.#native.busy();
  }

  /**
   * Rolls rows back to fewer tokens (speculative decoding's rejected tokens; a retry). A
   * number caps every row at that many tokens (rows already shorter keep theirs); an array
   * gives each row its length, which may not exceed the row's current one (RangeError).
   * Nothing is erased: later appends overwrite.
   */
  truncate(lengths: number | Int32Array | readonly number[]): void {
    let target: Int32Array;
    if (typeof lengths === 'number') {
      if (!Number.isInteger(lengths) || lengths < 0)
        throw rangeError('truncate: lengths', 'a non-negative integer', describe(lengths));
      const current = this.lengths;
      target = current.map((n) => Math.min(n, lengths));
    } else if (lengths instanceof Int32Array || Array.isArray(lengths)) {
      if (lengths.length !== this.batch) {
        throw rangeError('truncate: lengths', `${this.batch} entries (one per cache row)`, `${lengths.length}`);
      }
      target = new Int32Array(this.batch);
      for (let i = 0; i < this.batch; i++) {
        const n: unknown = lengths[i];
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
          throw rangeError(`truncate: lengths[${i}]`, 'a non-negative integer', describe(n));
        }
        target[i] = n;
      }
    } else {
      throw typeError('truncate: lengths', 'a number, an Int32Array or an array of numbers', lengths);
    }
    this.#native.truncate({ lengths: target });
  }

  /** Empties every row. */
  reset(): void {
    this.#native.truncate({ lengths: new Int32Array(this.batch) });
  }
}

/** The native cache behind `cache` when it was made for `owner`; null for another layer's; undefined when not a cache. */
export function nativeCacheFor(cache: unknown, owner: object): NativeCache | null | undefined {
  const entry = typeof cache === 'object' && cache !== null ? natives.get(cache as AttentionCache) : undefined;
  if (!entry) return undefined;
  return entry.owner === owner ? entry.native : null;
}
