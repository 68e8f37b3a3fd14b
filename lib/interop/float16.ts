// IEEE 754 binary16 (F16) and bfloat16 (BF16) ⇄ float32, exactly and without tables.
//
// Widening (F16/BF16 → F32) is exact for every value: normals, subnormals, ±0, ±Infinity
// and NaN (sign and payload kept, shifted into the float32 mantissa; F16 NaNs come out
// quiet, as x86's F16C instructions and PyTorch's .float() make them; BF16 is simply the
// upper half of a float32, bits unchanged, as in PyTorch). Narrowing
// (F32 → F16/BF16) rounds to nearest, ties to even, overflows to ±Infinity and keeps
// NaN a (quiet) NaN, as numpy / PyTorch do.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One binary16 bit pattern → its float32 value (exact). */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // ±0 and subnormals: mant · 2^-24
  if (exp === 0x1f) {
    if (mant === 0) return sign * Infinity;
    u32[0] = ((h & 0x8000) << 16) | 0x7fc00000 | (mant << 13);
    return f32[0]!;
  }
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** One bfloat16 bit pattern → its float32 value (exact: the upper half of a float32). */
export function bfloat16BitsToNumber(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** binary16 bit patterns → float32 values (into `out` when given). */
export function float16ToFloat32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i]!;
    const sign = (h & 0x8000) << 16;
    const exp = h & 0x7c00;
    const mant = h & 0x3ff;
    if (exp === 0x7c00)
      bits[i] = sign | (mant ? 0x7fc00000 : 0x7f800000) | (mant << 13); // ±Infinity, quiet NaN
    else if (exp !== 0)
      bits[i] = sign | (((exp >>> 10) + 112) << 23) | (mant << 13); // normal
    else if (mant === 0)
      bits[i] = sign; // ±0
    else out[i] = (sign ? -mant : mant) * 2 ** -24; // subnormal: exact in float32
  }
  return out;
}

/** bfloat16 bit patterns → float32 values (into `out` when given). */
export function bfloat16ToFloat32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return out;
}

/** float32 bits → binary16 bits, round to nearest even. */
function toHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // Infinity; NaN stays a quiet NaN
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00; // overflow → ±Infinity
  if (e <= 0) {
    // Subnormal (or zero) in binary16: shift the implicit 1 in, then round.
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h; // a carry into the exponent field is the correct result
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // carry may round up to Infinity: correct
  return sign | h;
}

/** float32 values → binary16 bit patterns (round to nearest even). */
export function float32ToFloat16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = toHalfBits(bits[i]!);
  return out;
}

/** float32 values → bfloat16 bit patterns (round to nearest even; NaN stays NaN). */
export function float32ToBfloat16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** One number → its binary16 bit pattern. */
export function numberToFloat16Bits(value: number): number {
  f32[0] = value;
  return toHalfBits(u32[0]!);
}
