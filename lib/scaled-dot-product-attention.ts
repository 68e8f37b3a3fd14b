// The functional core on already projected heads: softmax(scale · Q·Kᵀ + mask) · V.
import { native } from './binding';
import { runAsync } from './async';
import { checkOptionsObject, outputArray, resolveAttentionOptions, type AttentionOptions } from './attention-options';
import { checkFloat32, checkTensor, expectShape, type Tensor } from './tensor';

export interface SdpaOptions extends AttentionOptions {
  /** Softmax scale (default 1/√Dk). */
  scale?: number;
  /** Write the output here ([B, H, Lq, Dv] elements). */
  out?: Float32Array;
}

type SdpaArgs = Parameters<typeof native.scaledDotProductAttention>;

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
  const o = checkOptionsObject('options', options);
  const scale = o.scale === undefined ? 1 / Math.sqrt(Dk) : checkFloat32('scale', o.scale);
  const r = resolveAttentionOptions(o, B, H, Lq, Lk);
  const out = outputArray('out', o.out, B * H * Lq * Dv, () => [
    ['q', q.data], ['k', k.data], ['v', v.data], ['mask', r.mask], ['keyLengths', r.keyLengths],
  ]);
  return {
    args: [q.data, k.data, v.data, B, H, Lq, Lk, Dk, Dv, scale, r.mask, r.sb, r.sh, r.sq, r.sk, r.causal, r.keyLengths, out, null, false],
    shape: batched ? [B, H, Lq, Dv] : [H, Lq, Dv],
  };
}

/** q [B, H, Lq, Dk], k [B, H, Lk, Dk], v [B, H, Lk, Dv] (or without B) → [B, H, Lq, Dv]. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options?: SdpaOptions): Tensor {
  const { args, shape } = prepare(q, k, v, options);
  native.scaledDotProductAttention(...args);
  return { data: args[17], shape };
}

export async function scaledDotProductAttentionAsync(q: Tensor, k: Tensor, v: Tensor, options?: SdpaOptions): Promise<Tensor> {
  const { args, shape } = prepare(q, k, v, options);
  args[19] = true;
  await runAsync(() => native.scaledDotProductAttention(...args));
  return { data: args[17], shape };
}
