// The raw native module (native/binding/*.cpp), typed exactly. Internal and low level:
// lib/ validates every argument and gives the messages users see; the native side
// re-checks what it reads and throws TypeError/RangeError, never aborts.
//
// Each entry point's arguments are declared here as one named interface (*Args). The
// native functions take them positionally, in the order of the module's `argNames`
// (native/binding/arg_tables.h, the one list on the C++ side); lib/binding.ts packs the
// named objects into that order. Shapes are row-major and contiguous.

/** The options the layer's forward and scaledDotProductAttention share. */
export interface AttentionArgs {
  /** Uint8Array: nonzero = may attend; Float32Array: added to the scaled scores. */
  mask: Uint8Array | Float32Array | null;
  /** Element strides of the mask over (batch, head, query, key); 0 broadcasts an axis. */
  maskStrides: readonly [number, number, number, number];
  /** Bottom-right aligned: query i sees keys j <= i + (Lk - Lq). */
  causal: boolean;
  /** [B]: only the first keyLengths[b] keys of batch row b are real. */
  keyLengths: Int32Array | null;
  /** The output. */
  out: Float32Array;
  /** [B, H, Lq, Lk] attention probabilities, or null. */
  weightsOut: Float32Array | null;
}

/** query [B, Lq, E], key [B, Lk, kdim], value [B, Lk, vdim] → out [B, Lq, outputDim]. */
export interface ForwardArgs extends AttentionArgs {
  query: Float32Array;
  key: Float32Array;
  value: Float32Array;
  batch: number;
  queryLength: number;
  keyLength: number;
  /** Packed sequences (batch 1, queryLength = keyLength = their sum): block-diagonal attention. */
  sequenceLengths: Int32Array | null;
  /**
   * Append to this key/value cache (made by this layer) and attend over it: key and value
   * are the query, queryLength = keyLength = the tokens appended per row (or the packed
   * sequences' sum), no mask, keyLengths or weightsOut.
   */
  cache: AttentionCache | null;
  /** [batch rows or sequences]: distinct cache rows they append to (null: 0, 1, …, all rows). */
  cacheRows: Int32Array | null;
}

/** q [B, H, Lq, Dk], k [B, H, Lk, Dk], v [B, H, Lk, Dv] → out [B, H, Lq, Dv]. */
export interface SdpaArgs extends AttentionArgs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  batch: number;
  heads: number;
  queryLength: number;
  keyLength: number;
  keyDim: number;
  valueDim: number;
  scale: number;
}

export interface LayerArgs {
  embedDim: number;
  numHeads: number;
  /** Key/value heads: divides numHeads (grouped-query attention when smaller). */
  numKvHeads: number;
  keyDim: number;
  valueDim: number;
  kdim: number;
  vdim: number;
  outputDim: number;
  useBias: boolean;
  scale: number;
  /** Rotary embedding: features rotated per head (even, <= keyDim; 0: none). */
  rotaryDim: number;
  /** Pairs (2i, 2i+1) when true; (i, i + rotaryDim/2) when false. */
  rotaryInterleaved: boolean;
  /** [rotaryDim / 2] angular frequencies (radians per position), or null when rotaryDim is 0. */
  rotaryInvFreq: Float64Array | null;
  /** Each query sees at most this many keys, ending at its causal limit (0: no window). */
  slidingWindow: number;
}

export type WeightName = 'wq' | 'bq' | 'wk' | 'bk' | 'wv' | 'bv' | 'wo' | 'bo';

/** Copies `data` (contiguous [rows, cols]) into the weight. */
export interface SetWeightArgs {
  name: WeightName;
  data: Float32Array;
}
/** Copies the weight into `out` (contiguous [rows, cols]). */
export interface GetWeightArgs {
  name: WeightName;
  out: Float32Array;
}
/** out [M, N] = a [M, K] · b [K, N] (cblas_sgemm, pool threads). */
export interface MatmulArgs {
  a: Float32Array;
  b: Float32Array;
  out: Float32Array;
  M: number;
  N: number;
  K: number;
}

/** A key/value cache of `batch` rows for `layer` ([batch, numKvHeads, maxLength, keyDim | valueDim]). */
export interface CacheArgs {
  layer: MultiHeadAttention;
  batch: number;
  maxLength: number;
}
/** A cache's per-row filled lengths, [batch]: read into, or truncated to. */
export interface CacheLengthsArgs {
  lengths: Int32Array;
}

/** Arguments in the order of argNames[entry]: the values of the entry's *Args interface. */
type Positional = unknown[];

export declare class MultiHeadAttention {
  constructor(...args: Positional /* LayerArgs */);
  setWeight(...args: Positional /* SetWeightArgs */): void;
  getWeight(...args: Positional /* GetWeightArgs */): void;
  forward(...args: Positional /* ForwardArgs */): void;
  /** Copies the inputs now; writes the outputs when the Promise settles. */
  forwardAsync(...args: Positional /* ForwardArgs */): Promise<void>;
}

/** Native-owned key/value memory, allocated once (zeroed, committed as written). */
export declare class AttentionCache {
  constructor(...args: Positional /* CacheArgs */);
  /** Copies the per-row filled lengths into `lengths`. */
  getLengths(...args: Positional /* CacheLengthsArgs */): void;
  /** Sets the filled lengths, each at most the row's current one. */
  truncate(...args: Positional /* CacheLengthsArgs */): void;
  byteLength(): number;
  /** True while an async call that appends to it is in flight. */
  busy(): boolean;
}

export declare function scaledDotProductAttention(...args: Positional /* SdpaArgs */): void;
export declare function scaledDotProductAttentionAsync(...args: Positional /* SdpaArgs */): Promise<void>;
export declare function matmul(...args: Positional /* MatmulArgs */): void;

/** Each entry point's argument names, in call order. */
export declare const argNames: Readonly<{
  layer: readonly (keyof LayerArgs)[];
  forward: readonly (keyof ForwardArgs)[];
  sdpa: readonly (keyof SdpaArgs)[];
  matmul: readonly (keyof MatmulArgs)[];
  setWeight: readonly (keyof SetWeightArgs)[];
  getWeight: readonly (keyof GetWeightArgs)[];
  cache: readonly (keyof CacheArgs)[];
  cacheLengths: readonly (keyof CacheLengthsArgs)[];
}>;

export declare function setNumThreads(n: number): void;
export declare function getNumThreads(): number;
export declare function blasInfo(): { config: string; coreName: string; cores: number };
export interface CpuInfo {
  /**
   * The instruction set our kernels run: 'amx' (the AVX-512 kernels with the projections on
   * the AMX tile unit), 'avx512', 'avx2' or 'generic'.
   */
  isa: 'amx' | 'avx512' | 'avx2' | 'generic';
  /** NATIVE_ATTENTION_ISA as given ('' when unset); a path the CPU lacks falls back. */
  requested: string;
  /** The paths this CPU and this build can run, narrowest first. */
  available: ('generic' | 'avx2' | 'avx512' | 'amx')[];
  arch: 'x86-64' | 'other';
}
export declare function cpuInfo(): CpuInfo;

/** The limits lib/ validates against (one definition, in C++). */
export declare const limits: Readonly<{
  /** Elements of any one array. */
  maxElements: number;
  /** BLAS's 32-bit int: every GEMM dimension. */
  maxBlasInt: number;
  /** Weights of one layer. */
  maxParameters: number;
  /** setNumThreads' upper bound. */
  maxThreads: number;
}>;

/** Test hook, exported only when NATIVE_ATTENTION_FAULT_INJECTION=1: after `skip` more
 * allocations or thread starts succeed, the next `count` fail (with `thisThreadOnly`, only
 * those made on the calling thread). */
export declare const _faultInjection:
  | ((kind: 'alloc' | 'thread', skip: number, count: number, thisThreadOnly?: boolean) => void)
  | undefined;
