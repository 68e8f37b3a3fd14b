// Portable path of the fused attention kernel and the softmax row: plain C++ that any
// compiler and architecture builds (the compiler vectorises the loops for its baseline:
// SSE2 on x86-64, NEON on arm64). The block loop and softmax are in flash_attention_body.inc.
#include <cstddef>
#include <cstdint>

#include "flash_attention.h"

namespace na {
namespace generic {
namespace {

constexpr int kVecBytes = 16;  // one vector register
constexpr int kMR = 4;    // rows of a Q·Kᵀ micro-tile
constexpr int kNR = 16;   // keys of a panel
constexpr int kBr = 48;   // query rows per task
constexpr int kBc = 64;   // keys per block

// S[mr][panels·kNR] (ld lds) = Qs[mr][Dk] · Kp, panel p at kp + p·Dk·kNR.
template <int M>
void qk_tile(const float* qs, int64_t Dk, const float* kp, int64_t panels, float* s, int64_t lds) {
  for (int64_t p = 0; p < panels; ++p) {
    const float* b = kp + p * Dk * kNR;
    float acc[M][kNR] = {};
    for (int64_t d = 0; d < Dk; ++d) {
      for (int r = 0; r < M; ++r) {
        const float a = qs[r * Dk + d];
        for (int c = 0; c < kNR; ++c) acc[r][c] += a * b[d * kNR + c];
      }
    }
    for (int r = 0; r < M; ++r)
      for (int c = 0; c < kNR; ++c) s[r * lds + p * kNR + c] = acc[r][c];
  }
}

void qk_block(const float* qs, int64_t Dk, int mr, const float* kp, int64_t panels, float* s, int64_t lds) {
  switch (mr) {
    case 4: qk_tile<4>(qs, Dk, kp, panels, s, lds); break;
    case 3: qk_tile<3>(qs, Dk, kp, panels, s, lds); break;
    case 2: qk_tile<2>(qs, Dk, kp, panels, s, lds); break;
    default: qk_tile<1>(qs, Dk, kp, panels, s, lds); break;
  }
}

// O[mr][Dv] (ld ldo) += P[mr][n] (ld ldp) · V[n][Dv] (ld ldv).
void pv_block(const float* p, int64_t ldp, int mr, int64_t n, const float* v, int64_t ldv, int64_t Dv, float* o,
              int64_t ldo) {
  for (int r = 0; r < mr; ++r) {
    float* orow = o + r * ldo;
    for (int64_t j = 0; j < n; ++j) {
      const float a = p[r * ldp + j];
      const float* vrow = v + j * ldv;
      for (int64_t c = 0; c < Dv; ++c) orow[c] += a * vrow[c];
    }
  }
}

}  // namespace
}  // namespace generic
}  // namespace na

#define NA_FLASH_ISA generic
#include "flash_attention_body.inc"
