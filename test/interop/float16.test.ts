// F16 and BF16 ⇄ F32: known bit patterns (normals, subnormals, ±0, ±inf, NaN), PyTorch's
// own conversions (test/fixtures/torch/half.safetensors), exhaustive checks, and the
// safetensors F16 / BF16 paths.
import { describe, expect, it } from 'vitest';
import {
  bfloat16BitsToNumber,
  bfloat16ToFloat32,
  float16BitsToNumber,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  loadSafetensors,
  numberToFloat16Bits,
  saveSafetensors,
} from '../../lib/interop/index';
import { expectBitwise, torchFixture } from '../fixtures/fixtures';

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]!;

describe('float16 → float32', () => {
  const known: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xbc00, -1],
    [0x4000, 2],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0xfbff, -65504],
    [0x0001, 2 ** -24],
    [0x8001, -(2 ** -24)],
    [0x0002, 2 ** -23],
    [0x03ff, 1023 * 2 ** -24], // subnormals
    [0x0400, 2 ** -14],
    [0x8400, -(2 ** -14)], // smallest normals
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
    [0x3bff, 0.99951171875],
    [0x3c01, 1.0009765625],
    [0x5640, 100],
  ];
  it.each(known)('0x%s', (bits, value) => {
    expect(float16ToFloat32(new Uint16Array([bits]))[0]).toBe(value);
    expect(float16BitsToNumber(bits)).toBe(value);
  });

  it('-0 and NaNs (sign and payload kept, made quiet as PyTorch does)', () => {
    const out = float16ToFloat32(new Uint16Array([0x8000, 0x7e00, 0x7c01, 0xfe00, 0x7fff]));
    expect(Object.is(out[0], -0)).toBe(true);
    for (let i = 1; i < 5; i++) expect(Number.isNaN(out[i])).toBe(true);
    const bits = new Uint32Array(out.buffer);
    expect(bits[1]).toBe(0x7fc00000);
    expect(bits[2]).toBe(0x7fc02000);
    expect(bits[3]).toBe(0xffc00000);
    expect(Object.is(float16BitsToNumber(0x8000), -0)).toBe(true);
    expect(float16BitsToNumber(0x7c01)).toBeNaN();
  });

  it('all 65536 patterns: the array and scalar conversions agree, and the round trip is exact', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const wide = float16ToFloat32(all);
    const back = float32ToFloat16(wide);
    const bad: number[] = [];
    for (let i = 0; i < 65536; i++) {
      const v = float16BitsToNumber(i);
      const ok = Number.isNaN(v)
        ? Number.isNaN(wide[i]) &&
          (back[i]! & 0x7c00) === 0x7c00 &&
          (back[i]! & 0x3ff) !== 0 &&
          (back[i]! & 0x8000) === (i & 0x8000)
        : Object.is(wide[i], v) && back[i] === i;
      if (!ok) bad.push(i);
    }
    expect(bad.map((i) => i.toString(16))).toEqual([]);
  });
});

describe('bfloat16 → float32', () => {
  const known: [number, number][] = [
    [0x0000, 0],
    [0x3f80, 1],
    [0xbf80, -1],
    [0x4049, 3.140625],
    [0x7f7f, 3.3895313892515355e38],
    [0x0001, 2 ** -133],
    [0x8001, -(2 ** -133)],
    [0x007f, 127 * 2 ** -133],
    [0x0080, 2 ** -126],
    [0x7f80, Infinity],
    [0xff80, -Infinity],
  ];
  it.each(known)('0x%s', (bits, value) => {
    expect(bfloat16ToFloat32(new Uint16Array([bits]))[0]).toBe(value);
    expect(bfloat16BitsToNumber(bits)).toBe(value);
  });

  it('NaN and -0', () => {
    const out = bfloat16ToFloat32(new Uint16Array([0x7fc0, 0x7f81, 0x8000]));
    expect(out[0]).toBeNaN();
    expect(out[1]).toBeNaN();
    expect(Object.is(out[2], -0)).toBe(true);
  });
});

describe('float32 → float16 / bfloat16 (round to nearest even)', () => {
  it('ties, overflow, underflow, subnormals', () => {
    const h = (x: number) => numberToFloat16Bits(x);
    expect(h(1)).toBe(0x3c00);
    expect(h(1 + 2 ** -11)).toBe(0x3c00); // tie → even (down)
    expect(h(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(h(65504)).toBe(0x7bff);
    expect(h(65519)).toBe(0x7bff); // below the midpoint to 65536
    expect(h(65520)).toBe(0x7c00); // the midpoint rounds to even: Infinity
    expect(h(1e10)).toBe(0x7c00);
    expect(h(-1e10)).toBe(0xfc00);
    expect(h(2 ** -24)).toBe(0x0001);
    expect(h(2 ** -25)).toBe(0x0000); // tie with 0 → even (0)
    expect(h(1.5 * 2 ** -25)).toBe(0x0001);
    expect(h(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 subnormal units → 2
    expect(h(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the normals
    expect(h(1e-30)).toBe(0);
    expect(h(-0)).toBe(0x8000);
    expect(h(NaN) & 0x7e00).toBe(0x7e00);
    expect(h(Infinity)).toBe(0x7c00);

    const b = (x: number) => float32ToBfloat16(new Float32Array([x]))[0]!;
    expect(b(1)).toBe(0x3f80);
    expect(b(Math.PI)).toBe(0x4049);
    expect(b(bfloatTie(0x3f80))).toBe(0x3f80); // tie → even
    expect(b(bfloatTie(0x3f81))).toBe(0x3f82);
    expect(b(3.4028234663852886e38)).toBe(0x7f80); // rounds to Infinity
    expect(b(NaN) & 0x7fc0).toBe(0x7fc0);
    expect(b(-Infinity)).toBe(0xff80);
  });

  function bfloatTie(upper: number): number {
    return new Float32Array(new Uint32Array([(upper << 16) | 0x8000]).buffer)[0]!;
  }

  it('matches PyTorch (half.safetensors): widening and narrowing', () => {
    const r = loadSafetensors(torchFixture('half.safetensors'));
    const t = r.tensors;
    expect(r.dtypes.f16).toBe('F16');
    expect(r.dtypes.bf16).toBe('BF16');
    expect(r.dtypes.f64).toBe('F64');
    // Loading F16 / BF16 gives exactly PyTorch's .float() (NaN bit patterns included).
    expectBitwise(t.f16!.data, t.f16_as_f32!.data);
    expectBitwise(t.bf16!.data, t.bf16_as_f32!.data);
    expectBitwise(t.values_f16!.data, t.values_f16_as_f32!.data);
    expectBitwise(t.values_bf16!.data, t.values_bf16_as_f32!.data);
    expectBitwise(t.f64!.data, t.f64_as_f32!.data);
    // Our narrowing agrees with PyTorch's .to(float16 / bfloat16).
    expectBitwise(float16ToFloat32(float32ToFloat16(t.values!.data)), t.values_f16_as_f32!.data);
    expectBitwise(bfloat16ToFloat32(float32ToBfloat16(t.values!.data)), t.values_bf16_as_f32!.data);
  });

  it('saveSafetensors writes F16 / BF16, and loading gives the rounded values', () => {
    const values = new Float32Array([1, 0.1, -65520, 1e-7, NaN, 3.3e38]);
    const buf = saveSafetensors({ h: { data: values, shape: [6], dtype: 'F16' }, b: { data: values, shape: [6] } }, null, null, {
      dtype: 'BF16',
    });
    const r = loadSafetensors(buf);
    expect(r.dtypes).toEqual({ h: 'F16', b: 'BF16' });
    expectBitwise(r.tensors.h!.data, float16ToFloat32(float32ToFloat16(values)));
    expectBitwise(r.tensors.b!.data, bfloat16ToFloat32(float32ToBfloat16(values)));
    expect(bitsOf(r.tensors.h!.data[0]!)).toBe(bitsOf(1));
  });
});
