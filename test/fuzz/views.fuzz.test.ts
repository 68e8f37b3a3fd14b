// Views fuzz: every array of a call (query, key, value, float mask, out; bool mask and
// keyLengths in their own arenas) is a view at a random offset into one big buffer whose
// every other element is a canary (a NaN with a recognisable payload). After each call:
//   - every canary still has its exact bits (nothing was written outside `out`),
//   - the inputs are unchanged (nothing was written into them),
//   - the output matches the float64 reference computed from copies (nothing was read
//     from outside the views: a canary read would have turned it into NaN).
// Regions may be adjacent (gap 0), so an off-by-one in either direction shows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scaledDotProductAttention, scaledDotProductAttentionAsync, type MaskTensor, type Tensor } from '../../lib/index';
import { randomTensor, referenceMha, referenceSdpa, relErr } from '../helpers/reference';
import { buildLayer, FUZZ_TOL, makeKeyLengths, makeMask, maskLayoutArb, maskShape, params, withThreads } from './fuzz-helpers';

const CANARY_F32 = 0x7fc0dead; // a quiet NaN with a payload no computation produces
const CANARY_U8 = 0xa5; // nonzero: an over-read bool mask element would say "attend"
const CANARY_I32 = 0x7eadbeef; // far beyond any key length

type Kind = 'f32' | 'u8' | 'i32';
const BYTES: Record<Kind, number> = { f32: 4, u8: 1, i32: 4 };
const CANARY: Record<Kind, number> = { f32: CANARY_F32, u8: CANARY_U8, i32: CANARY_I32 };

/** One buffer per element kind, views carved at random gaps, canaries everywhere else. */
class Arena {
  private readonly regions: { name: string; kind: Kind; length: number; gapBefore: number }[] = [];
  private readonly views = new Map<string, Float32Array | Uint8Array | Int32Array>();
  private readonly buffers = new Map<Kind, { bytes: Uint8Array; owned: boolean[] }>();

  constructor(
    private readonly shared: boolean,
    private readonly next: () => number,
  ) {}

  add(name: string, kind: Kind, length: number): void {
    const r = this.next();
    const gapBefore = r < 0.3 ? 0 : 1 + Math.floor(this.next() * 9);
    this.regions.push({ name, kind, length, gapBefore });
  }

  /** Lays out the regions (in a shuffled order) and fills the canaries. */
  build(): void {
    const order = [...this.regions].sort(() => this.next() - 0.5);
    for (const kind of ['f32', 'u8', 'i32'] as Kind[]) {
      const mine = order.filter((r) => r.kind === kind);
      const elems = mine.reduce((n, r) => n + r.gapBefore + r.length, 0) + 1 + Math.floor(this.next() * 5);
      // u8 views may start at any byte; f32/i32 at any element.
      const lead = kind === 'u8' ? Math.floor(this.next() * 4) : 0;
      const byteLength = (elems + lead) * BYTES[kind];
      const buffer = this.shared ? new SharedArrayBuffer(byteLength) : new ArrayBuffer(byteLength);
      const all = kind === 'u8' ? new Uint8Array(buffer) : kind === 'f32' ? new Uint32Array(buffer) : new Int32Array(buffer);
      all.fill(CANARY[kind]);
      const owned = new Array<boolean>(all.length).fill(false);
      let at = lead;
      for (const r of mine) {
        at += r.gapBefore;
        const view =
          kind === 'f32'
            ? new Float32Array(buffer, at * 4, r.length)
            : kind === 'u8'
              ? new Uint8Array(buffer, at, r.length)
              : new Int32Array(buffer, at * 4, r.length);
        this.views.set(r.name, view);
        for (let i = 0; i < r.length; i++) owned[at + i] = true;
        at += r.length;
      }
      this.buffers.set(kind, { bytes: new Uint8Array(buffer), owned });
    }
  }

  view<T extends Float32Array | Uint8Array | Int32Array>(name: string): T {
    const v = this.views.get(name);
    if (!v) throw new Error(`no region ${name}`);
    return v as T;
  }

  /** Indices (per kind) of canaries whose bits changed. */
  damagedCanaries(): string[] {
    const damaged: string[] = [];
    for (const [kind, { bytes, owned }] of this.buffers) {
      const all = kind === 'u8' ? bytes : kind === 'f32' ? new Uint32Array(bytes.buffer) : new Int32Array(bytes.buffer);
      for (let i = 0; i < all.length; i++)
        if (!owned[i] && all[i] !== CANARY[kind]) damaged.push(`${kind}[${i}] = 0x${(all[i]! >>> 0).toString(16)}`);
    }
    return damaged;
  }
}

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function expectMatch(actual: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  const e = relErr(actual, ref);
  if (!(e <= FUZZ_TOL)) throw new Error(`${what}: relErr ${e} > ${FUZZ_TOL}`);
}

function expectUnchanged(view: ArrayLike<number>, copy: ArrayLike<number>, what: string): void {
  for (let i = 0; i < copy.length; i++)
    if (!Object.is(view[i], copy[i])) throw new Error(`${what}[${i}] was written: ${copy[i]} → ${view[i]}`);
}

const viewCaseArb = fc.record({
  B: fc.integer({ min: 1, max: 3 }),
  Lq: fc.integer({ min: 1, max: 24 }),
  Lk: fc.integer({ min: 1, max: 24 }),
  H: fc.integer({ min: 1, max: 4 }),
  keyDim: fc.integer({ min: 1, max: 8 }),
  valueDim: fc.integer({ min: 1, max: 8 }),
  E: fc.integer({ min: 1, max: 16 }),
  kdim: fc.integer({ min: 1, max: 16 }),
  vdim: fc.integer({ min: 1, max: 16 }),
  outputDim: fc.integer({ min: 1, max: 16 }),
  inputs: fc.constantFrom('self', 'sharedKV', 'separate'),
  mask: maskLayoutArb,
  causal: fc.boolean(),
  keyLengths: fc.boolean(),
  withWeights: fc.boolean(),
  async: fc.boolean(),
  shared: fc.boolean(),
  threads: fc.constantFrom(1, 2),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});

describe('offset views with NaN canaries around them', () => {
  it('MultiHeadAttention: canaries untouched, inputs unchanged, output correct (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(viewCaseArb, async (c) => {
        const kdim = c.inputs === 'self' ? c.E : c.kdim;
        const vdim = c.inputs === 'separate' ? c.vdim : kdim;
        const Lk = c.inputs === 'self' ? c.Lq : c.Lk;
        const { B, Lq, H } = c;
        const { layer, weights, config } = buildLayer(
          {
            embedDim: c.E,
            numHeads: H,
            keyDim: c.keyDim,
            valueDim: c.valueDim,
            kdim,
            vdim,
            outputDim: c.outputDim,
            useBias: true,
          },
          c.seed,
        );
        // Plain copies: what the reference sees, and what the views must still hold after.
        const q = randomTensor([B, Lq, c.E], c.seed + 1);
        const k = c.inputs === 'self' ? q : randomTensor([B, Lk, kdim], c.seed + 2);
        const v = c.inputs === 'separate' ? randomTensor([B, Lk, vdim], c.seed + 3) : k;
        const mShape = maskShape(c.mask, [B, H, Lq, Lk]);
        const mask = makeMask(c.mask, mShape, c.seed + 4);
        const kl = c.keyLengths ? makeKeyLengths(B, Lk, c.seed + 5) : null;

        const arena = new Arena(c.shared, seeded(c.seed));
        arena.add('query', 'f32', q.data.length);
        if (c.inputs !== 'self') arena.add('key', 'f32', k.data.length);
        if (c.inputs === 'separate') arena.add('value', 'f32', v.data.length);
        if (mask) arena.add('mask', mask.data instanceof Uint8Array ? 'u8' : 'f32', mask.data.length);
        if (kl) arena.add('keyLengths', 'i32', kl.length);
        arena.add('out', 'f32', B * Lq * c.outputDim);
        arena.build();

        const vq: Tensor = { data: arena.view<Float32Array>('query'), shape: q.shape };
        vq.data.set(q.data);
        const vk: Tensor = c.inputs === 'self' ? vq : { data: arena.view<Float32Array>('key'), shape: k.shape };
        if (c.inputs !== 'self') vk.data.set(k.data);
        const vv: Tensor = c.inputs === 'separate' ? { data: arena.view<Float32Array>('value'), shape: v.shape } : vk;
        if (c.inputs === 'separate') vv.data.set(v.data);
        const vmask = mask ? ({ data: arena.view<Uint8Array | Float32Array>('mask'), shape: mShape } as MaskTensor) : null;
        if (vmask && mask) vmask.data.set(mask.data as never);
        const vkl = kl ? arena.view<Int32Array>('keyLengths') : null;
        if (vkl && kl) vkl.set(kl);
        const out = arena.view<Float32Array>('out');
        out.fill(NaN);

        const ref = referenceMha(weights, config, q, c.inputs === 'self' ? null : k, c.inputs === 'separate' ? v : null, {
          mask,
          causal: c.causal,
          keyLengths: kl,
        });
        const options = { mask: vmask, causal: c.causal, keyLengths: vkl, out };
        const args = [vq, c.inputs === 'self' ? null : vk, c.inputs === 'separate' ? vv : null] as const;
        await withThreads(c.threads, async () => {
          if (c.withWeights) {
            const r = c.async
              ? await layer.forwardWithWeightsAsync(...args, options)
              : layer.forwardWithWeights(...args, options);
            expectMatch(r.weights.data, ref.probs, 'weights');
          } else if (c.async) await layer.forwardAsync(...args, options);
          else layer.forward(...args, options);
        });

        expect(arena.damagedCanaries(), 'canaries written').toEqual([]);
        expectUnchanged(vq.data, q.data, 'query');
        if (c.inputs !== 'self') expectUnchanged(vk.data, k.data, 'key');
        if (c.inputs === 'separate') expectUnchanged(vv.data, v.data, 'value');
        if (vmask && mask) expectUnchanged(vmask.data, mask.data, 'mask');
        if (vkl && kl) expectUnchanged(vkl, kl, 'keyLengths');
        expectMatch(out, ref.output, 'output');
      }),
      params(600),
    );
  });

  it('scaledDotProductAttention: canaries untouched, inputs unchanged, output correct (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(viewCaseArb, async (c) => {
        const { B, H, Lq, Lk } = c;
        const Dk = c.keyDim;
        const Dv = c.valueDim;
        const q = randomTensor([B, H, Lq, Dk], c.seed + 1);
        const k = randomTensor([B, H, Lk, Dk], c.seed + 2);
        const v = randomTensor([B, H, Lk, Dv], c.seed + 3);
        const mShape = maskShape(c.mask, [B, H, Lq, Lk]);
        const mask = makeMask(c.mask, mShape, c.seed + 4);
        const kl = c.keyLengths ? makeKeyLengths(B, Lk, c.seed + 5) : null;

        const arena = new Arena(c.shared, seeded(c.seed ^ 0x5bd1e995));
        arena.add('q', 'f32', q.data.length);
        arena.add('k', 'f32', k.data.length);
        arena.add('v', 'f32', v.data.length);
        if (mask) arena.add('mask', mask.data instanceof Uint8Array ? 'u8' : 'f32', mask.data.length);
        if (kl) arena.add('keyLengths', 'i32', kl.length);
        arena.add('out', 'f32', B * H * Lq * Dv);
        arena.build();
        const view = (name: string, src: Tensor): Tensor => {
          const d = arena.view<Float32Array>(name);
          d.set(src.data);
          return { data: d, shape: src.shape };
        };
        const vq = view('q', q);
        const vk = view('k', k);
        const vv = view('v', v);
        const vmask = mask ? ({ data: arena.view<Uint8Array | Float32Array>('mask'), shape: mShape } as MaskTensor) : null;
        if (vmask && mask) vmask.data.set(mask.data as never);
        const vkl = kl ? arena.view<Int32Array>('keyLengths') : null;
        if (vkl && kl) vkl.set(kl);
        const out = arena.view<Float32Array>('out');
        out.fill(NaN);

        const ref = referenceSdpa(q.data, k.data, v.data, { B, H, Lq, Lk, Dk, Dv }, { mask, causal: c.causal, keyLengths: kl });
        const options = { mask: vmask, causal: c.causal, keyLengths: vkl, out };
        await withThreads(c.threads, async () => {
          if (c.async) await scaledDotProductAttentionAsync(vq, vk, vv, options);
          else scaledDotProductAttention(vq, vk, vv, options);
        });

        expect(arena.damagedCanaries(), 'canaries written').toEqual([]);
        expectUnchanged(vq.data, q.data, 'q');
        expectUnchanged(vk.data, k.data, 'k');
        expectUnchanged(vv.data, v.data, 'v');
        if (vmask && mask) expectUnchanged(vmask.data, mask.data, 'mask');
        if (vkl && kl) expectUnchanged(vkl, kl, 'keyLengths');
        expectMatch(out, ref.output, 'output');
      }),
      params(600),
    );
  });
});
