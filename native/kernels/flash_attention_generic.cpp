// Portable path of the fused attention kernel and the softmax row: C++ with GCC/Clang vector
// extensions of 16 bytes, which every architecture these compilers target builds (SSE2 on
// x86-64, NEON on arm64). The block loop and softmax are in flash_attention_body.inc.
#include <cstddef>
#include <cstdint>

#include "flash_attention.h"

namespace na {
namespace generic {
namespace {

constexpr int kVecBytes = 16;  // one vector register (SSE2, NEON)
constexpr int kMR = 4;         // rows of a micro-tile
constexpr int kNR = 8;         // keys of a panel (two registers)
// Query rows per task and keys per block; overridable for tuning experiments only
// (-DNA_GENERIC_BR=.. -DNA_GENERIC_BC=..; BR a multiple of kMR, BC of kNR).
#ifndef NA_GENERIC_BR
#define NA_GENERIC_BR 48
#endif
#ifndef NA_GENERIC_BC
#define NA_GENERIC_BC 64
#endif
constexpr int kBr = NA_GENERIC_BR;
constexpr int kBc = NA_GENERIC_BC;
static_assert(kBr % kMR == 0 && kBc % kNR == 0, "blocks are whole micro-tiles");

// Four floats: GCC/Clang vector extensions, lowered to SSE2 on x86-64, NEON on arm64 (and to
// scalar code where there is no SIMD). 4 × 2 accumulators + 2 operands fit 16 registers.
typedef float v4f __attribute__((vector_size(16)));

inline __attribute__((always_inline)) v4f load4(const float* p) {
  v4f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline __attribute__((always_inline)) void store4(float* p, v4f v) { __builtin_memcpy(p, &v, sizeof v); }

// S[M][panels·kNR] = A · B, or += with accumulate (see PanelOperands).
template <int M>
void qk_tile(const PanelOperands& op, int64_t panels, bool accumulate, float* s, int64_t lds) {
  for (int64_t p = 0; p < panels; ++p) {
    const float* b = op.b + p * op.panel_stride;
    float* out = s + p * kNR;
    v4f acc[M][2];
    for (int r = 0; r < M; ++r) {
      acc[r][0] = accumulate ? load4(out + r * lds) : v4f{};
      acc[r][1] = accumulate ? load4(out + r * lds + 4) : v4f{};
    }
    for (int64_t d = 0; d < op.depth; ++d) {
      const v4f b0 = load4(b + d * kNR), b1 = load4(b + d * kNR + 4);
      for (int r = 0; r < M; ++r) {
        const float a = op.a[r * op.lda + d];
        acc[r][0] += a * b0;
        acc[r][1] += a * b1;
      }
    }
    for (int r = 0; r < M; ++r) {
      store4(out + r * lds, acc[r][0]);
      store4(out + r * lds + 4, acc[r][1]);
    }
  }
}

// O[M][Dv] (ld ldo) += P[M][n] (ld ldp) · V[n][Dv] (ld ldv): 8 columns at a time in
// registers, the last Dv % 8 columns by a plain loop (V is never read past Dv).
template <int M>
void pv_rows(const float* p, int64_t ldp, int64_t n, const float* v, int64_t ldv, int64_t Dv, float* o, int64_t ldo) {
  int64_t c0 = 0;
  for (; c0 + 8 <= Dv; c0 += 8) {
    v4f acc[M][2];
    for (int r = 0; r < M; ++r) {
      acc[r][0] = load4(o + r * ldo + c0);
      acc[r][1] = load4(o + r * ldo + c0 + 4);
    }
    for (int64_t j = 0; j < n; ++j) {
      const v4f b0 = load4(v + j * ldv + c0), b1 = load4(v + j * ldv + c0 + 4);
      for (int r = 0; r < M; ++r) {
        const float a = p[r * ldp + j];
        acc[r][0] += a * b0;
        acc[r][1] += a * b1;
      }
    }
    for (int r = 0; r < M; ++r) {
      store4(o + r * ldo + c0, acc[r][0]);
      store4(o + r * ldo + c0 + 4, acc[r][1]);
    }
  }
  if (c0 < Dv) {
    for (int r = 0; r < M; ++r) {
      float* orow = o + r * ldo;
      for (int64_t j = 0; j < n; ++j) {
        const float a = p[r * ldp + j];
        const float* vrow = v + j * ldv;
        for (int64_t c = c0; c < Dv; ++c) orow[c] += a * vrow[c];
      }
    }
  }
}

}  // namespace
}  // namespace generic
}  // namespace na

#define NA_FLASH_ISA generic
#include "flash_attention_body.inc"
