// The functional core on already projected heads: softmax(scale · Q·Kᵀ + mask) · V.
import type { SdpaArgs } from '../binding';
import { resolveAttentionOptions, type AttentionOptions } from './attention-options';
import { runAsync, tensorResult } from './async';
import { native } from './binding';
import type { Tensor } from './tensor';
import { checkFloat32, checkOptionsObject, checkTensor, expectShape, optionKeys, outputArray } from './validate';

export interface SdpaOptions extends AttentionOptions {
  /** Softmax scale (default 1/√Dk). */
  scale?: number;
  /** Write the output here ([B, H, Lq, Dv] elements). */
  out?: Float32Array;
}

const SDPA_OPTIONS = optionKeys<SdpaOptions>()({ mask: true, causal: true, keyLengths: true, scale: true, out: true });

function prepare(q: Tensor, k: Tensor, v: Tensor, options: SdpaOptions | undefined): { args: SdpaArgs; shape: number[] } {
  const qs = checkTensor('q', q, [3, 4]);
  const batched = qs.length === 4;
  const [B, H, Lq, Dk] = (batched ? qs : [1, ...qs]) as [number, number, number, number];
  const ks = checkTensor('k', k, [qs.length]);
  const Lk = ks[ks.length - 2]!;
  expectShape('k', ks, batched ? [B, H, 'Lk', Dk] : [H, 'Lk', Dk]);
  const vs = checkTensor('v', v, [qs.length]);
  const Dv = vs[vs.length - 1]!;
  expectShape('v', vs, batched ? [B, H, Lk, 'Dv'] : [H, Lk, 'Dv']);
  const o = checkOptionsObject('options', options, SDPA_OPTIONS);
  const scale = o.scale === undefined ? 1 / Math.sqrt(Dk) : checkFloat32('scale', o.scale);
  const r = resolveAttentionOptions(o, B, H, Lq, Lk);
  const out = outputArray('out', o.out, B * H * Lq * Dv, () => [
    ['q', q.data],
    ['k', k.data],
    ['v', v.data],
    ['mask', r.mask],
    ['keyLengths', r.keyLengths],
  ]);
  return {
    args: {
      q: q.data,
      k: k.data,
      v: v.data,
      batch: B,
      heads: H,
      queryLength: Lq,
      keyLength: Lk,
      keyDim: Dk,
      valueDim: Dv,
      scale,
      mask: r.mask,
      maskStrides: r.maskStrides,
      causal: r.causal,
      keyLengths: r.keyLengths,
      out,
      weightsOut: null,
    },
    shape: batched ? [B, H, Lq, Dv] : [H, Lq, Dv],
  };
}

/** q [B, H, Lq, Dk], k [B, H, Lk, Dk], v [B, H, Lk, Dv] (or without B) → [B, H, Lq, Dv]. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options?: SdpaOptions): Tensor {
  const { args, shape } = prepare(q, k, v, options);
  native.scaledDotProductAttention(args);
  return { data: args.out, shape };
}

export function scaledDotProductAttentionAsync(q: Tensor, k: Tensor, v: Tensor, options?: SdpaOptions): Promise<Tensor> {
  return runAsync(() => {
    const { args, shape } = prepare(q, k, v, options);
    return [native.scaledDotProductAttentionAsync(args), tensorResult(args.out, shape)];
  });
}
