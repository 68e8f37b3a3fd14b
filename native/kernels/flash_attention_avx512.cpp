// AVX-512F path of the fused attention kernel and the softmax row. Compiled with
// -mavx512f (CMakeLists.txt, x86 only) and called only when the CPU and the OS support it
// (cpu_features.cpp). Micro-tiles of 12 rows × 32 columns: 24 accumulators, 2 loads and a
// broadcast in 32 zmm registers (MLAS's AVX-512F kernel shape).
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "exp_poly.h"
#include "flash_attention.h"

namespace na {
namespace avx512 {
namespace {

constexpr int kVecBytes = 64;  // one vector register
constexpr int kMR = 12;
constexpr int kNR = 32;
// Query rows per task and keys per block; overridable for tuning experiments only
// (-DNA_AVX512_BR=.. -DNA_AVX512_BC=..; BR a multiple of kMR, BC of kNR).
#ifndef NA_AVX512_BR
#define NA_AVX512_BR 48
#endif
#ifndef NA_AVX512_BC
#define NA_AVX512_BC 128
#endif
constexpr int kBr = NA_AVX512_BR;
constexpr int kBc = NA_AVX512_BC;
static_assert(kBr % kMR == 0 && kBc % kNR == 0, "blocks are whole micro-tiles");

// S[M][panels·kNR] = A · B, or += with accumulate (see PanelOperands).
template <int M>
void qk_tile(const PanelOperands& op, int64_t panels, bool accumulate, float* s, int64_t lds) {
  for (int64_t p = 0; p < panels; ++p) {
    const float* b = op.b + p * op.panel_stride;
    float* out = s + p * kNR;
    __m512 acc[M][2];
    for (int r = 0; r < M; ++r) {
      acc[r][0] = accumulate ? _mm512_load_ps(out + r * lds) : _mm512_setzero_ps();
      acc[r][1] = accumulate ? _mm512_load_ps(out + r * lds + 16) : _mm512_setzero_ps();
    }
    for (int64_t d = 0; d < op.depth; ++d) {
      const __m512 b0 = _mm512_load_ps(b + d * kNR), b1 = _mm512_load_ps(b + d * kNR + 16);
      for (int r = 0; r < M; ++r) {
        const __m512 a = _mm512_set1_ps(op.a[r * op.lda + d]);
        acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
      }
    }
    for (int r = 0; r < M; ++r) {
      _mm512_store_ps(out + r * lds, acc[r][0]);
      _mm512_store_ps(out + r * lds + 16, acc[r][1]);
    }
  }
}

__mmask16 first_lanes(int64_t cols) {
  return cols >= 16 ? __mmask16(0xFFFF) : cols <= 0 ? __mmask16(0) : __mmask16((1u << cols) - 1);
}

// O[M][c0 : c0+32] += P[M][n] · V[n][c0 : c0+32]; only `cols` V columns are read
// (O rows are padded to 16 floats, so O is accessed in whole vectors where cols > 16).
template <int M>
void pv_tile(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t cols, float* o, int64_t ldo) {
  const __mmask16 m0 = first_lanes(cols), m1 = first_lanes(cols - 16);
  __m512 acc[M][2];
  for (int r = 0; r < M; ++r) {
    acc[r][0] = _mm512_load_ps(o + r * ldo);
    acc[r][1] = _mm512_maskz_load_ps(m1, o + r * ldo + 16);
  }
  if (cols >= 32) {
    for (int64_t j = 0; j < n; ++j) {
      const __m512 b0 = _mm512_loadu_ps(v + j * ldv), b1 = _mm512_loadu_ps(v + j * ldv + 16);
      for (int r = 0; r < M; ++r) {
        const __m512 a = _mm512_set1_ps(p[r * ldp + j]);
        acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
      }
    }
  } else {
    for (int64_t j = 0; j < n; ++j) {
      const __m512 b0 = _mm512_maskz_loadu_ps(m0, v + j * ldv), b1 = _mm512_maskz_loadu_ps(m1, v + j * ldv + 16);
      for (int r = 0; r < M; ++r) {
        const __m512 a = _mm512_set1_ps(p[r * ldp + j]);
        acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
      }
    }
  }
  for (int r = 0; r < M; ++r) {
    _mm512_store_ps(o + r * ldo, acc[r][0]);
    _mm512_mask_store_ps(o + r * ldo + 16, m1, acc[r][1]);
  }
}

// O[M][Dv] += P[M][n] · V[n][Dv], kNR columns at a time.
template <int M>
void pv_rows(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t Dv, float* o, int64_t ldo) {
  for (int64_t c0 = 0; c0 < Dv; c0 += 32) pv_tile<M>(p, ldp, n, v + c0, ldv, Dv - c0, o + c0, ldo);
}

// exp(x) for x <= 0, one register: x = n·ln2 + r (n rounded by the 1.5·2^23 trick), exp(r)
// by exp_poly.h's degree-5 polynomial, then scalef: p·2^n. Ten operations where Cephes'
// expf (ln2 in two constants, degree 7, 2^n through the exponent bits) takes fourteen; on
// AVX-512 they share ports 0 and 5 with the FMAs of Q·Kᵀ and P·V, so each one saved is
// attention time (bench/NOTES.md, issue 10, attempt 30). Below -87 (underflow; -inf =
// masked) the result is 0; NaN propagates through the arithmetic (the hardware's
// float-to-int is never used, so no clamp is needed).
inline __attribute__((always_inline)) __m512 exp_native(__m512 x) {
  using namespace exp_poly;
  const __m512 magic = _mm512_set1_ps(12582912.0f);  // 1.5·2^23
  const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(kLog2e), magic), magic);
  const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2), x);
  static_assert(kDegree == 5, "one FMA per coefficient below");
  __m512 p = _mm512_set1_ps(kC[5]);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC[4]));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC[3]));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC[2]));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC[1]));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kC[0]));
  const __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_LT_OQ);
  return _mm512_maskz_scalef_ps(_knot_mask16(under), p, n);
}

}  // namespace
}  // namespace avx512
}  // namespace na

#define NA_FLASH_NATIVE_EXP 1
#define NA_FLASH_ISA avx512
#include "flash_attention_body.inc"
#endif
