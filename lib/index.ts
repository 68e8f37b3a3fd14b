export { AttentionCache, MultiHeadAttention, WEIGHT_NAMES } from './multi-head-attention';
export type {
  CacheOptions,
  ForwardOptions,
  MultiHeadAttentionOptions,
  OutputWithWeights,
  Rotary,
  RotaryOptions,
  RotaryScaling,
  WeightName,
  Weights,
  WeightsOptions,
} from './multi-head-attention';
export { SelfAttention } from './self-attention';
export type { SelfAttentionOptions } from './self-attention';
export { scaledDotProductAttention, scaledDotProductAttentionAsync } from './scaled-dot-product-attention';
export type { SdpaOptions } from './scaled-dot-product-attention';
export type { AttentionOptions } from './attention-options';
export { tensor } from './tensor';
export type { MaskTensor, Tensor } from './tensor';
export { matmul } from './matmul';
export { blasInfo, cpuInfo, getNumThreads, setNumThreads } from './threads';
export type { CpuInfo } from '../binding';
export * from './interop/index';
