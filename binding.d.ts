// The raw native module (native/binding/*.cpp), typed exactly. Internal and low level:
// lib/ validates every argument and gives the messages users see; the native side
// re-checks what it reads and throws TypeError/RangeError, never aborts.
//
// Shapes are row-major and contiguous. Mask strides are element strides over
// (batch, head, query, key), 0 for a broadcast axis.

/** Index of a weight in an AttentionLayer: wq, bq, wk, bk, wv, bv, wo, bo. */
export type WeightIndex = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

export declare class AttentionLayer {
  constructor(
    embedDim: number,
    numHeads: number,
    keyDim: number,
    valueDim: number,
    kdim: number,
    vdim: number,
    outputDim: number,
    useBias: boolean,
    scale: number,
  );
  /** Copies `data` (contiguous [rows, cols]) into the weight. */
  setWeight(index: WeightIndex, data: Float32Array): void;
  /** Copies the weight into `out` (contiguous [rows, cols]). */
  getWeight(index: WeightIndex, out: Float32Array): void;
  /**
   * query [B, Lq, E], key [B, Lk, kdim], value [B, Lk, vdim] → out [B, Lq, outputDim];
   * weightsOut [B, H, Lq, Lk] or null. Returns a Promise when `async`.
   */
  forward(
    query: Float32Array,
    key: Float32Array,
    value: Float32Array,
    batch: number,
    queryLength: number,
    keyLength: number,
    mask: Uint8Array | Float32Array | null,
    maskStrideB: number,
    maskStrideH: number,
    maskStrideQ: number,
    maskStrideK: number,
    causal: boolean,
    keyLengths: Int32Array | null,
    out: Float32Array,
    weightsOut: Float32Array | null,
    async: boolean,
  ): undefined | Promise<void>;
}

/** q [B, H, Lq, Dk], k [B, H, Lk, Dk], v [B, H, Lk, Dv] → out [B, H, Lq, Dv]. */
export declare function scaledDotProductAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  batch: number,
  heads: number,
  queryLength: number,
  keyLength: number,
  keyDim: number,
  valueDim: number,
  scale: number,
  mask: Uint8Array | Float32Array | null,
  maskStrideB: number,
  maskStrideH: number,
  maskStrideQ: number,
  maskStrideK: number,
  causal: boolean,
  keyLengths: Int32Array | null,
  out: Float32Array,
  weightsOut: Float32Array | null,
  async: boolean,
): undefined | Promise<void>;

/** out [M, N] = a [M, K] · b [K, N] (cblas_sgemm, pool threads). */
export declare function matmul(a: Float32Array, b: Float32Array, out: Float32Array, M: number, N: number, K: number): void;

export declare function setNumThreads(n: number): void;
export declare function getNumThreads(): number;
export declare function blasInfo(): { config: string; coreName: string; cores: number };
