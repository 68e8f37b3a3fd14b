// The tutorial's layer: SelfAttention(embedSize, heads) with call(values, keys, query, mask),
// a thin wrapper over MultiHeadAttention in the tutorial's argument order.
import { rangeError, typeError } from './errors';
import { MultiHeadAttention, type Weights } from './multi-head-attention';
import type { MaskTensor, Tensor } from './tensor';
import { checkDim, checkOptionsObject, optionKeys } from './validate';

export interface SelfAttentionOptions {
  seed?: number;
  useBias?: boolean;
}

export class SelfAttention {
  readonly embedSize: number;
  readonly heads: number;
  readonly headDim: number;
  /** The layer doing the work; use it for causal masks, key lengths, async, weights. */
  readonly attention: MultiHeadAttention;

  constructor(embedSize: number, heads: number, options?: SelfAttentionOptions) {
    this.embedSize = checkDim('embedSize', embedSize);
    this.heads = checkDim('heads', heads);
    if (embedSize % heads !== 0) throw rangeError('heads', `a divisor of embedSize (${embedSize})`, `${heads}`);
    this.headDim = embedSize / heads;
    const o = checkOptionsObject(
      'SelfAttention: options',
      options,
      optionKeys<SelfAttentionOptions>()({ seed: true, useBias: true }),
    );
    this.attention = new MultiHeadAttention({
      embedDim: embedSize,
      numHeads: heads,
      ...(o.seed !== undefined ? { seed: o.seed as number } : {}),
      ...(o.useBias !== undefined ? { useBias: o.useBias as boolean } : {}),
    });
  }

  /**
   * values [N, valueLen, E], keys [N, keyLen, E], query [N, queryLen, E] → [N, queryLen, E].
   * mask: broadcastable to [N, heads, queryLen, keyLen]; as in the tutorial, a position
   * whose mask is 0 is not attended to (any nonzero value, Uint8Array or Float32Array, attends).
   */
  call(values: Tensor, keys: Tensor, query: Tensor, mask?: MaskTensor | null): Tensor {
    return this.attention.forward(query, keys, values, { mask: asKeepMask(mask) });
  }

  async callAsync(values: Tensor, keys: Tensor, query: Tensor, mask?: MaskTensor | null): Promise<Tensor> {
    return this.attention.forwardAsync(query, keys, values, { mask: asKeepMask(mask) });
  }

  getWeights(): Weights {
    return this.attention.getWeights();
  }

  setWeights(weights: Weights): void {
    this.attention.setWeights(weights);
  }
}

/** The tutorial's mask is "0 = masked" whatever its dtype: a float mask becomes a keep-mask. */
function asKeepMask(mask: MaskTensor | null | undefined): MaskTensor | null {
  if (mask === undefined || mask === null) return null;
  if (typeof mask !== 'object') throw typeError('mask', 'a tensor { data: Uint8Array | Float32Array, shape }', mask);
  if (!(mask.data instanceof Float32Array)) return mask;
  const keep = new Uint8Array(mask.data.length);
  for (let i = 0; i < keep.length; i++) keep[i] = mask.data[i] !== 0 ? 1 : 0;
  return { data: keep, shape: mask.shape };
}
