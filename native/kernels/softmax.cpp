#include "softmax.h"

#include "simd.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace na {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int kLanes = 16;  // independent accumulators: lets the compiler keep a full vector

NA_INLINE void apply_mask(float* s, int n, const MaskRow& m) {
  if (m.kind == MaskKind::Bool) {
    const uint8_t* b = static_cast<const uint8_t*>(m.data);
    if (m.stride == 1) {
      for (int j = 0; j < n; ++j) s[j] = b[j] ? s[j] : kNegInf;
    } else {
      for (int j = 0; j < n; ++j) s[j] = b[j * m.stride] ? s[j] : kNegInf;
    }
  } else if (m.kind == MaskKind::Additive) {
    const float* a = static_cast<const float*>(m.data);
    if (m.stride == 1) {
      for (int j = 0; j < n; ++j) s[j] += a[j];
    } else {
      for (int j = 0; j < n; ++j) s[j] += a[j * m.stride];
    }
  }
}

// 16 floats as one value: GCC vector extensions, lowered to whatever the clone's ISA has
// (one AVX-512 register, two AVX2, four SSE), so the hot loops are vectorised for sure.
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
static_assert(sizeof(v16f) == kLanes * sizeof(float), "one vector per kLanes floats");

NA_INLINE v16f load16(const float* p) {
  v16f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
NA_INLINE void store16(float* p, v16f v) { __builtin_memcpy(p, &v, sizeof v); }
NA_INLINE v16f splat(float x) { return v16f{} + x; }

// exp(x) for x <= 0 on 16 lanes. Cephes' expf: x = n·ln2 + r with |r| <= ln2/2, exp(r) by
// a degree-7 polynomial, 2^n through the exponent bits; error about 1 ulp. Below -87
// (exp underflows; includes masked -inf) the result is 0; NaN stays NaN.
NA_INLINE v16f exp_nonpositive16(v16f x) {
  const v16i nan = x != x;
  const v16i under = x < -87.0f;
  v16f xs = under ? splat(-87.0f) : x;
  xs = nan ? splat(0.0f) : xs;  // keeps the int conversion below defined
  xs = xs > 0.0f ? splat(0.0f) : xs;
  v16f n = xs * 1.44269504088896341f + 12582912.0f;
  n -= 12582912.0f;
  v16f r = xs - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  v16f p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const v16i bits = (__builtin_convertvector(n, v16i) + 127) << 23;
  v16f scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  v16f e = p * scale;
  e = under ? splat(0.0f) : e;
  return nan ? x : e;
}

NA_INLINE float row_max(const float* s, int n) {
  v16f acc = splat(kNegInf);
  int j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const v16f v = load16(s + j);
    acc = v > acc ? v : acc;
  }
  float m = kNegInf;
  for (int l = 0; l < kLanes; ++l) m = acc[l] > m ? acc[l] : m;
  for (; j < n; ++j) m = s[j] > m ? s[j] : m;
  return m;
}

// s[j] = exp(s[j] - m); returns the sum. The tail runs through the same vector code,
// padded with -inf lanes (exp gives 0: nothing is added).
NA_INLINE float exp_and_sum(float* s, int n, float m) {
  v16f acc = splat(0.0f);
  int j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    const v16f e = exp_nonpositive16(load16(s + j) - m);
    store16(s + j, e);
    acc += e;
  }
  if (j < n) {
    float tail[kLanes];
    for (int l = 0; l < kLanes; ++l) tail[l] = j + l < n ? s[j + l] - m : kNegInf;
    const v16f e = exp_nonpositive16(load16(tail));
    store16(tail, e);
    for (int l = 0; j + l < n; ++l) s[j + l] = tail[l];
    acc += e;
  }
  float sum = 0.0f;
  for (int l = 0; l < kLanes; ++l) sum += acc[l];
  return sum;
}

NA_INLINE bool any_nan(const float* s, int n) {
  for (int j = 0; j < n; ++j)
    if (s[j] != s[j]) return true;
  return false;
}

}  // namespace

NA_SIMD_CLONES
void masked_softmax_row(float* s, int limit, int width, const MaskRow& mask) {
  if (limit < 0) limit = 0;
  if (limit > width) limit = width;
  apply_mask(s, limit, mask);
  // Subtracting the row maximum keeps every exponent <= 0: no overflow for large
  // scores, and the largest term is exactly 1, so the sum is >= 1 and safe to divide by.
  const float m = limit > 0 ? row_max(s, limit) : kNegInf;
  if (m == kNegInf) {
    // Nothing may be attended to. Say so with zeros (not NaN, not a uniform average);
    // but a NaN score (NaN input) still propagates.
    const float fill = any_nan(s, limit) ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    for (int j = 0; j < limit; ++j) s[j] = fill;
  } else {
    const float inv = 1.0f / exp_and_sum(s, limit, m);
    for (int j = 0; j < limit; ++j) s[j] *= inv;
  }
  if (width > limit) std::memset(s + limit, 0, sizeof(float) * (width - limit));
}

}  // namespace na
