// scaledDotProductAttention on projected heads, [B, H, L, D] and unbatched [H, L, D],
// against the float64 reference: sizes, scale, the option matrix, mask shapes, rows with
// nothing to attend to, `out`, and the async variant.
import { describe, expect, it } from 'vitest';
import { scaledDotProductAttention, scaledDotProductAttentionAsync, type SdpaOptions } from '../../lib/index';
import { maskRowsFully, randomKeyLengths, randomMask, randomTensor, referenceSdpa } from '../helpers/reference';
import { MASK_SHAPES, expectClose, expectFinite, expectIdentical, poisoned } from '../helpers/layers';

function heads(B: number, H: number, Lq: number, Lk: number, Dk: number, Dv: number, seed: number, range = 1) {
  return {
    q: randomTensor([B, H, Lq, Dk], seed, range),
    k: randomTensor([B, H, Lk, Dk], seed + 1, range),
    v: randomTensor([B, H, Lk, Dv], seed + 2, range),
  };
}

/** The same data viewed without the batch axis (B must be 1). */
function unbatch<T extends { data: Float32Array; shape: number[] }>(t: T): T {
  return { ...t, shape: t.shape.slice(1) };
}

describe('a hand-computed case (checks the reference too)', () => {
  // One head, q = [1, 0], keys e1 and e2, scale 1: p = softmax([1, 0]) = [e, 1] / (e + 1).
  const q = { data: new Float32Array([1, 0]), shape: [1, 1, 2] };
  const k = { data: new Float32Array([1, 0, 0, 1]), shape: [1, 2, 2] };
  const v = { data: new Float32Array([1, 2, 3, 4]), shape: [1, 2, 2] };
  const p0 = Math.E / (Math.E + 1);
  const expected = [p0 * 1 + (1 - p0) * 3, p0 * 2 + (1 - p0) * 4];

  it('reference and engine give softmax-weighted values', () => {
    const ref = referenceSdpa(q.data, k.data, v.data, { B: 1, H: 1, Lq: 1, Lk: 2, Dk: 2, Dv: 2 }, { scale: 1 });
    expect(Array.from(ref.probs)).toEqual([p0, 1 - p0].map((x) => expect.closeTo(x, 15)));
    expect(Array.from(ref.output)).toEqual(expected.map((x) => expect.closeTo(x, 14)));
    expectClose(scaledDotProductAttention(q, k, v, { scale: 1 }).data, expected);
  });

  it('masking key 0 leaves exactly value 1; masking both leaves zeros', () => {
    const y1 = scaledDotProductAttention(q, k, v, { scale: 1, mask: { data: new Uint8Array([0, 1]), shape: [2] } });
    expect(Array.from(y1.data)).toEqual([3, 4]);
    const y0 = scaledDotProductAttention(q, k, v, { scale: 1, mask: { data: new Uint8Array([0, 0]), shape: [2] } });
    expect(Array.from(y0.data)).toEqual([0, 0]);
    const ref = referenceSdpa(
      q.data,
      k.data,
      v.data,
      { B: 1, H: 1, Lq: 1, Lk: 2, Dk: 2, Dv: 2 },
      { mask: { data: new Uint8Array([0, 0]), shape: [2] } },
    );
    expect(Array.from(ref.output)).toEqual([0, 0]);
    expect(Array.from(ref.probs)).toEqual([0, 0]);
  });
});

describe('sizes and scale', () => {
  it.each([
    { B: 1, H: 1, Lq: 1, Lk: 1, Dk: 1, Dv: 1, range: 1 },
    { B: 2, H: 3, Lq: 3, Lk: 17, Dk: 5, Dv: 7, range: 1 },
    { B: 2, H: 3, Lq: 17, Lk: 3, Dk: 8, Dv: 2, range: 10 },
    { B: 3, H: 16, Lq: 17, Lk: 17, Dk: 4, Dv: 4, range: 1 },
    { B: 1, H: 2, Lq: 257, Lk: 257, Dk: 16, Dv: 9, range: 1 },
    { B: 1, H: 2, Lq: 257, Lk: 31, Dk: 3, Dv: 5, range: 0.05 },
    // Long keys: the smallest query block (16 rows) and more than one per head.
    { B: 1, H: 2, Lq: 40, Lk: 2500, Dk: 8, Dv: 8, range: 1 },
  ])('B=$B H=$H Lq=$Lq Lk=$Lk Dk=$Dk Dv=$Dv range ±$range', ({ B, H, Lq, Lk, Dk, Dv, range }) => {
    const { q, k, v } = heads(B, H, Lq, Lk, Dk, Dv, Lq * 1000 + Lk, range);
    const y = scaledDotProductAttention(q, k, v);
    expect(y.shape).toEqual([B, H, Lq, Dv]);
    expectClose(y.data, referenceSdpa(q.data, k.data, v.data, { B, H, Lq, Lk, Dk, Dv }).output);
  });

  it.each([0.1, 1, 3.7, -0.5])('custom scale %f', (scale) => {
    const s = { B: 2, H: 2, Lq: 5, Lk: 6, Dk: 4, Dv: 3 };
    const { q, k, v } = heads(s.B, s.H, s.Lq, s.Lk, s.Dk, s.Dv, 31, 1);
    expectClose(scaledDotProductAttention(q, k, v, { scale }).data, referenceSdpa(q.data, k.data, v.data, s, { scale }).output);
  });

  it('unbatched [H, L, D] gives [H, Lq, Dv], equal to the B=1 call', () => {
    const s = { B: 1, H: 4, Lq: 3, Lk: 17, Dk: 6, Dv: 5 };
    const { q, k, v } = heads(s.B, s.H, s.Lq, s.Lk, s.Dk, s.Dv, 41, 10);
    const y = scaledDotProductAttention(unbatch(q), unbatch(k), unbatch(v));
    expect(y.shape).toEqual([4, 3, 5]);
    expectClose(y.data, referenceSdpa(q.data, k.data, v.data, s).output);
    expectIdentical(y.data, scaledDotProductAttention(q, k, v).data);
  });
});

// ---------------------------------------------------------------------------------------

const MATRIX = [
  { layout: 'batched', B: 3, Lq: 6, Lk: 6 },
  { layout: 'batched', B: 3, Lq: 4, Lk: 9 },
  { layout: 'batched', B: 3, Lq: 9, Lk: 4 },
  { layout: 'unbatched', B: 1, Lq: 5, Lk: 8 },
  { layout: 'unbatched', B: 1, Lq: 8, Lk: 5 },
].flatMap((s) =>
  (['none', 'bool', 'additive'] as const).flatMap((mask) =>
    [false, true].flatMap((causal) =>
      [false, true].flatMap((keyLengths) => [false, true].map((out) => ({ ...s, mask, causal, keyLengths, out }))),
    ),
  ),
);

describe('option matrix', () => {
  const H = 2;
  const Dk = 5;
  const Dv = 3;

  it.each(MATRIX)('$layout Lq=$Lq Lk=$Lk mask=$mask causal=$causal keyLengths=$keyLengths out=$out', async (c) => {
    const seed = c.B * 10000 + c.Lq * 100 + c.Lk;
    const { q, k, v } = heads(c.B, H, c.Lq, c.Lk, Dk, Dv, seed, 1);
    const batched = c.layout === 'batched';
    const maskShape = batched ? [c.B, H, c.Lq, c.Lk] : [H, c.Lq, c.Lk];
    const keyLengths = c.keyLengths ? (batched ? randomKeyLengths(c.B, c.Lk, seed + 4) : [c.Lk - 2]) : null;
    const options: SdpaOptions = {
      mask: c.mask === 'none' ? null : randomMask(c.mask, maskShape, seed + 3, 0.3),
      causal: c.causal,
      keyLengths,
      scale: 0.6,
    };
    const ref = referenceSdpa(q.data, k.data, v.data, { B: c.B, H, Lq: c.Lq, Lk: c.Lk, Dk, Dv }, options);
    const [qq, kk, vv] = batched ? [q, k, v] : [unbatch(q), unbatch(k), unbatch(v)];
    const n = c.B * H * c.Lq * Dv;

    const out = c.out ? poisoned(n) : undefined;
    const y = scaledDotProductAttention(qq, kk, vv, { ...options, out });
    if (out) expect(y.data).toBe(out);
    expect(y.shape).toEqual(batched ? [c.B, H, c.Lq, Dv] : [H, c.Lq, Dv]);
    expectFinite(y.data);
    expectClose(y.data, ref.output);

    const out2 = c.out ? poisoned(n) : undefined;
    const ya = await scaledDotProductAttentionAsync(qq, kk, vv, { ...options, out: out2 });
    if (out2) expect(ya.data).toBe(out2);
    expect(ya.shape).toEqual(y.shape);
    expectIdentical(ya.data, y.data);
  });
});

// ---------------------------------------------------------------------------------------

describe('mask shapes broadcast to [B, H, Lq, Lk] = [2, 3, 4, 5]', () => {
  const s = { B: 2, H: 3, Lq: 4, Lk: 5, Dk: 6, Dv: 4 };
  const { q, k, v } = heads(s.B, s.H, s.Lq, s.Lk, s.Dk, s.Dv, 51, 1);

  it.each(MASK_SHAPES.flatMap((shape) => (['bool', 'additive'] as const).map((kind) => ({ shape, kind }))))(
    '$kind mask of shape $shape',
    ({ shape, kind }) => {
      const mask = randomMask(kind, shape, 52 + shape.length * 13 + shape[0]!, 0.35);
      const y = scaledDotProductAttention(q, k, v, { mask });
      expectFinite(y.data);
      expectClose(y.data, referenceSdpa(q.data, k.data, v.data, s, { mask }).output);
    },
  );

  it('unbatched with masks [Lk], [Lq, Lk], [H, 1, Lk], [1, H, Lq, Lk]', () => {
    const u = { B: 1, H: 3, Lq: 4, Lk: 5, Dk: 6, Dv: 4 };
    const t = heads(1, 3, 4, 5, 6, 4, 53, 1);
    for (const shape of [[5], [4, 5], [3, 1, 5], [1, 3, 4, 5]]) {
      const mask = randomMask('bool', shape, 54 + shape.length, 0.3);
      const y = scaledDotProductAttention(unbatch(t.q), unbatch(t.k), unbatch(t.v), { mask });
      expectClose(y.data, referenceSdpa(t.q.data, t.k.data, t.v.data, u, { mask }).output);
    }
  });
});

// ---------------------------------------------------------------------------------------

describe('rows with nothing to attend to give zeros, never NaN', () => {
  const s = { B: 2, H: 2, Lq: 5, Lk: 4, Dk: 3, Dv: 6 };
  const { q, k, v } = heads(s.B, s.H, s.Lq, s.Lk, s.Dk, s.Dv, 61, 10);
  const rowOf = (data: Float32Array, b: number, h: number, i: number) =>
    Array.from(data.subarray(((b * s.H + h) * s.Lq + i) * s.Dv, ((b * s.H + h) * s.Lq + i + 1) * s.Dv));
  const zeros = new Array(s.Dv).fill(0);

  it.each(['bool', 'additive'] as const)('%s mask with fully masked rows', (kind) => {
    const mask = randomMask(kind, [2, 2, 5, 4], 62, 0.25);
    const full: [number, number, number][] = [
      [0, 0, 0],
      [0, 1, 4],
      [1, 1, 2],
    ];
    maskRowsFully(mask, full);
    const y = scaledDotProductAttention(q, k, v, { mask });
    expectFinite(y.data);
    expectClose(y.data, referenceSdpa(q.data, k.data, v.data, s, { mask }).output);
    for (const [b, h, i] of full) expect(rowOf(y.data, b, h, i)).toEqual(zeros);
  });

  it('keyLengths 0', () => {
    const y = scaledDotProductAttention(q, k, v, { keyLengths: [0, 3] });
    expectClose(y.data, referenceSdpa(q.data, k.data, v.data, s, { keyLengths: [0, 3] }).output);
    for (let h = 0; h < 2; h++) for (let i = 0; i < 5; i++) expect(rowOf(y.data, 0, h, i)).toEqual(zeros);
  });

  it('causal with Lq > Lk: the first Lq - Lk rows', () => {
    const y = scaledDotProductAttention(q, k, v, { causal: true });
    expectClose(y.data, referenceSdpa(q.data, k.data, v.data, s, { causal: true }).output);
    for (let b = 0; b < 2; b++) for (let h = 0; h < 2; h++) expect(rowOf(y.data, b, h, 0)).toEqual(zeros);
    expect(rowOf(y.data, 0, 0, 1)).not.toEqual(zeros);
  });

  it('causal with Lq < Lk: query i sees keys j <= i + Lk - Lq (bottom-right)', () => {
    const t = { B: 1, H: 1, Lq: 2, Lk: 6, Dk: 2, Dv: 6 };
    const h = heads(1, 1, 2, 6, 2, 6, 63, 1);
    // v = identity rows: the output row is the probability row itself.
    h.v.data.fill(0);
    for (let j = 0; j < 6; j++) h.v.data[j * 6 + j] = 1;
    const y = scaledDotProductAttention(h.q, h.k, h.v, { causal: true });
    expectClose(y.data, referenceSdpa(h.q.data, h.k.data, h.v.data, t, { causal: true }).output);
    expect(Array.from(y.data.subarray(0, 6), (p) => p > 0)).toEqual([true, true, true, true, true, false]);
    expect(Array.from(y.data.subarray(6, 12), (p) => p > 0)).toEqual([true, true, true, true, true, true]);
  });
});

describe('padding and the -1e9 idiom', () => {
  const s = { B: 2, H: 2, Lq: 4, Lk: 7, Dk: 3, Dv: 5 };

  it('NaN and Infinity in keys/values beyond keyLengths never reach the output', () => {
    const { q, k, v } = heads(s.B, s.H, s.Lq, s.Lk, s.Dk, s.Dv, 81, 1);
    const lengths = [4, 6];
    const ref = referenceSdpa(q.data, k.data, v.data, s, { keyLengths: lengths }).output;
    for (let b = 0; b < 2; b++)
      for (let h = 0; h < 2; h++)
        for (let j = lengths[b]!; j < s.Lk; j++) {
          k.data.fill(NaN, ((b * 2 + h) * s.Lk + j) * s.Dk, ((b * 2 + h) * s.Lk + j + 1) * s.Dk);
          v.data.fill(j % 2 ? Infinity : NaN, ((b * 2 + h) * s.Lk + j) * s.Dv, ((b * 2 + h) * s.Lk + j + 1) * s.Dv);
        }
    const y = scaledDotProductAttention(q, k, v, { keyLengths: lengths });
    expectFinite(y.data);
    expectClose(y.data, ref);
  });

  it('an additive mask of 0 / -1e9 matches the boolean mask', () => {
    const { q, k, v } = heads(s.B, s.H, s.Lq, s.Lk, s.Dk, s.Dv, 82, 1);
    const bool = randomMask('bool', [2, 1, 4, 7], 83, 0.3);
    for (let r = 0; r < 8; r++) bool.data[r * 7] = 1; // no fully masked row: -1e9 would average those
    const additive = { data: Float32Array.from(bool.data, (m) => (m ? 0 : -1e9)), shape: bool.shape };
    const yb = scaledDotProductAttention(q, k, v, { mask: bool });
    const ya = scaledDotProductAttention(q, k, v, { mask: additive });
    expectClose(ya.data, yb.data, 1e-6, 'additive vs bool');
    expectClose(ya.data, referenceSdpa(q.data, k.data, v.data, s, { mask: additive }).output);
  });
});

describe('scaledDotProductAttentionAsync', () => {
  it('many concurrent calls each equal the sync result', async () => {
    const cases = Array.from({ length: 8 }, (_, n) => {
      const t = heads(2, 4, 33 + n, 65, 16, 8, 700 + n, 1);
      const opts: SdpaOptions = { causal: n % 2 === 0, keyLengths: n % 3 === 0 ? [65, 10] : null };
      return { t, opts, sync: scaledDotProductAttention(t.q, t.k, t.v, opts).data };
    });
    const results = await Promise.all(cases.map(({ t, opts }) => scaledDotProductAttentionAsync(t.q, t.k, t.v, opts)));
    results.forEach((r, n) => {
      const { t, opts, sync } = cases[n]!;
      expectIdentical(r.data, sync);
      expectClose(
        r.data,
        referenceSdpa(t.q.data, t.k.data, t.v.data, { B: 2, H: 4, Lq: 33 + n, Lk: 65, Dk: 16, Dv: 8 }, opts).output,
      );
    });
  });
});
