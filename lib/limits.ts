// The size limits lib/ validates against. Each is defined once, in the native code that
// relies on it, and exported by the addon, so the two layers cannot disagree.
import { native } from './binding';

/** Elements of any one tensor (2^40 floats = 4 TiB: beyond any machine). */
export const MAX_ELEMENTS: number = native.limits.maxElements;
/** BLAS's 32-bit int: every GEMM dimension. */
export const MAX_BLAS_INT: number = native.limits.maxBlasInt;
/** Weights of one layer (2^31 floats = 8 GiB): more could only end in the OOM killer. */
export const MAX_PARAMETERS: number = native.limits.maxParameters;
/** setNumThreads' upper bound. */
export const MAX_THREADS: number = native.limits.maxThreads;
