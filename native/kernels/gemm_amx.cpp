// AMX path (Intel Sapphire Rapids and later): the GEMM on packed weights (the layers'
// projections) on the tile unit's bfloat16 dot products, at float32 accuracy. Everything
// else is the AVX-512 path's (flash_kernel() below).
//
// Float32 from bfloat16: every operand x is split into three bfloat16 parts, x = x0 + x1 + x2
// (round to nearest each time; 8 significant bits each, float32's 24 in all, so the split is
// exact for normal numbers), and a product x·y is summed from the six partial products x_i·y_j
// with i + j <= 2 into float32 accumulators; the three left out are below 2^-24 of |x·y|.
// One tile product (TDPBF16PS) does 16 × 16 × 32 multiply-adds in 16 cycles, so six of them
// still do the work of 6/16 of the AVX-512 FMAs' time. The weights are split once, when packed;
// A is split per call.
//
// (The attention itself stays on AVX-512: on tiles, with the softmax between Q·Kᵀ and P·V and
// the probabilities split every block, it ran at the AVX-512 kernel's speed on long sequences
// and slower on short ones; bench/NOTES.md, issue 10, attempt 35.)
//
// Compiled with -mamx-tile -mamx-bf16 -mavx512bf16 (CMakeLists.txt, x86-64 Linux with GCC or
// Clang) and called only when the CPU has AMX-TILE, AMX-BF16 and AVX512-BF16 and the OS has
// granted this process the tile state (cpu_features.cpp).
#if defined(__x86_64__) || defined(_M_X64)
// GCC 12 reports its own _mm512_undefined_epi32() (inside _mm512_cvtepu16_epi32 and
// _mm512_slli_epi32) as "may be used uninitialized" once inlined here: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "flash_attention.h"

namespace na {
// fault_injection.h's check, declared here rather than included: its <atomic> templates must
// not be compiled with this unit's flags (the linker could keep that copy for every unit).
namespace fault {
enum class Kind;  // Kind::Alloc is 0
bool should_fail(Kind kind);
}  // namespace fault

namespace amx {
namespace {

#define NA_ALWAYS_INLINE inline __attribute__((always_inline))

typedef uint16_t bf16;
constexpr int64_t kParts = 3;   // bfloat16 parts per float
constexpr int64_t kTile = 16;   // rows of every tile; float columns of a result tile
constexpr int64_t kStep = 32;   // bfloat16 per tile row: the depth of one tile product
constexpr int64_t kPanel = 32;  // columns of one packed panel: two result tiles
// A's split rows per chunk: one chunk and one panel stay in L2 while the chunk's row pairs
// pass over the panel.
constexpr int64_t kChunkBytes = int64_t(512) * 1024;
// One row (a decoding step) is left to OpenBLAS's sgemv: it streams the float32 weight,
// where the tiles would read the 1.5× larger split copy and pad the row to a whole tile
// (1.5× sgemv's time at 1 × 3072 × 2048; from two rows on the tiles are faster:
// bench/native/projection_gemm.cpp).
constexpr int64_t kMinRows = 2;

constexpr int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
constexpr int64_t max1(int64_t x) { return x > 1 ? x : 1; }
constexpr int64_t depth_pad(int64_t K) { return round_up(max1(K), kStep); }  // K to whole steps
constexpr int64_t panels_of(int64_t N) { return (max1(N) + kPanel - 1) / kPanel; }

__mmask16 first_lanes(int64_t cols) {
  return cols >= 16 ? __mmask16(0xFFFF) : cols <= 0 ? __mmask16(0) : __mmask16((1u << cols) - 1);
}

// Sixteen floats from p: the first `cols` of them, the rest 0 (nothing past them is read).
NA_ALWAYS_INLINE __m512 load_lanes(const float* p, int64_t cols) { return _mm512_maskz_loadu_ps(first_lanes(cols), p); }

// x = x0 + x1 + x2 in bfloat16 (round to nearest even each time; each remainder is exact in
// float). A non-finite lane keeps its value in x0 and zeros in x1, x2 (inf − inf would be NaN).
NA_ALWAYS_INLINE void split3(__m512 x, __m256i part[kParts]) {
  const __mmask16 finite = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(__builtin_inff()), _CMP_LT_OQ);
  __m512 r = x;
  for (int i = 0; i < kParts; ++i) {
    const __m256bh h = _mm512_cvtneps_pbh(r);
    __builtin_memcpy(&part[i], &h, sizeof h);
    if (i + 1 < kParts) {
      const __m512 back = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(part[i]), 16));
      r = _mm512_maskz_sub_ps(finite, r, back);
    }
  }
}

// Tile configuration: tiles 0-3 results (16 rows × 16 floats), 4-5 A operands (16 rows × 32
// bf16), 6-7 B operands (16 pair rows × 16 columns × 2): every tile 16 rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

// The tile configuration from construction to destruction: released after each call, so
// that the thread's context switches do not save 8 KiB of tiles while it runs anything else.
struct TileSession {
  TileSession() {
    static const TileConfig config;
    _tile_loadconfig(&config);
  }
  ~TileSession() { _tile_release(); }
  TileSession(const TileSession&) = delete;
  TileSession& operator=(const TileSession&) = delete;
};

// This thread's buffer for A's split rows: grown when a call needs more, kept for the
// thread's life (no allocation per call in steady state). Null when it cannot be had.
struct SplitBuffer {
  bf16* data = nullptr;
  int64_t size = 0;
  bf16* get(int64_t n) {
    if (n > size) {
      std::free(data);
      data = fault::should_fail(fault::Kind(0))
                 ? nullptr
                 : static_cast<bf16*>(std::aligned_alloc(64, std::size_t(round_up(n * 2, 64))));
      size = data ? n : 0;
    }
    return data;
  }
  SplitBuffer() = default;
  SplitBuffer(const SplitBuffer&) = delete;
  SplitBuffer& operator=(const SplitBuffer&) = delete;
  ~SplitBuffer() { std::free(data); }
};
thread_local SplitBuffer split_buffer;

// ---- packed weights ---------------------------------------------------------------------
// B [K, N] in panels of two 16-column tiles; each tile holds its three parts one after the
// other, each part [Kp/2][16][2]: rows k and k + 1 of one column side by side in one dword,
// the tile unit's layout for B operands. Kp = K rounded up to whole steps, zero-padded, and
// columns past N zero.
int64_t packed_floats(int64_t K, int64_t N) { return panels_of(N) * 2 * kParts * depth_pad(K) * kTile / 2; }

void pack_panels(const float* B, int64_t ldb, int64_t K, int64_t N, float* out_floats) {
  int32_t* out = reinterpret_cast<int32_t*>(out_floats);
  const int64_t Kp = depth_pad(K), tiles = panels_of(N) * 2;
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t c0 = t * kTile;
    for (int64_t k = 0; k < Kp; k += 2) {
      __m256i even[kParts], odd[kParts];
      split3(k < K ? load_lanes(B + k * ldb + c0, N - c0) : _mm512_setzero_ps(), even);
      split3(k + 1 < K ? load_lanes(B + (k + 1) * ldb + c0, N - c0) : _mm512_setzero_ps(), odd);
      for (int i = 0; i < kParts; ++i) {
        const __m512i pairs =
            _mm512_or_si512(_mm512_cvtepu16_epi32(even[i]), _mm512_slli_epi32(_mm512_cvtepu16_epi32(odd[i]), 16));
        _mm512_storeu_si512(out + ((t * kParts + i) * Kp / 2 + k / 2) * kTile, pairs);
      }
    }
  }
}

// ---- the GEMM -----------------------------------------------------------------------------

// Rows [0, rows) of A (row stride K) split into a[kParts][part_rows][Kp], zero past K and
// from `rows` up to the next whole tile.
void split_rows(const float* A, int64_t K, int64_t rows, int64_t Kp, int64_t part_rows, bf16* a) {
  for (int64_t r = 0; r < round_up(rows, kTile); ++r) {
    for (int64_t c0 = 0; c0 < Kp; c0 += 16) {
      __m256i part[kParts];
      split3(r < rows ? load_lanes(A + r * K + c0, K - c0) : _mm512_setzero_ps(), part);
      for (int i = 0; i < kParts; ++i)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(a + (i * part_rows + r) * Kp + c0), part[i]);
    }
  }
}

// C tiles (R row tiles × C column tiles, R, C in {1, 2}: tiles 0, 1 | 2, 3) += the six
// partial products of one step: A parts at a + i·a_part (second row tile + a_next, row
// stride lda bytes), B parts at b + j·b_part (second column tile + b_next, ldb bytes).
template <int R, int C>
NA_ALWAYS_INLINE void six_products(const bf16* a, int64_t a_part, int64_t a_next, int64_t lda, const bf16* b,
                                   int64_t b_part, int64_t b_next, int64_t ldb) {
  for (int i = 0; i < kParts; ++i) {
    _tile_loadd(4, a + i * a_part, lda);
    if constexpr (R == 2) _tile_loadd(5, a + i * a_part + a_next, lda);
    for (int j = 0; i + j < kParts; ++j) {
      _tile_loadd(6, b + j * b_part, ldb);
      if constexpr (C == 2) _tile_loadd(7, b + j * b_part + b_next, ldb);
      _tile_dpbf16ps(0, 4, 6);
      if constexpr (C == 2) _tile_dpbf16ps(1, 4, 7);
      if constexpr (R == 2) _tile_dpbf16ps(2, 5, 6);
      if constexpr (R == 2 && C == 2) _tile_dpbf16ps(3, 5, 7);
    }
  }
}

// Result tile t (0-3) to c (the tile intrinsics take the tile number as an immediate, hence
// the switch).
NA_ALWAYS_INLINE void tile_stored(int t, float* c, int64_t ld_bytes) {
  switch (t) {
    case 0: _tile_stored(0, c, ld_bytes); break;
    case 1: _tile_stored(1, c, ld_bytes); break;
    case 2: _tile_stored(2, c, ld_bytes); break;
    default: _tile_stored(3, c, ld_bytes); break;
  }
}

// Result tile t into rows × cols of c: whole tiles straight, partial ones through a buffer
// (nothing past the matrix is written).
NA_ALWAYS_INLINE void store_tile(int t, float* c, int64_t ldc, int64_t rows, int64_t cols) {
  if (rows >= kTile && cols >= kTile) {
    tile_stored(t, c, ldc * 4);
    return;
  }
  alignas(64) float tmp[kTile * kTile];
  tile_stored(t, tmp, kTile * 4);
  for (int64_t r = 0; r < rows && r < kTile; ++r)
    _mm512_mask_storeu_ps(c + r * ldc, first_lanes(cols), _mm512_load_ps(tmp + r * kTile));
}

// One row pair (R row tiles, `rows` of them real) × one panel (C column tiles, `cols` real)
// of C = A · B + bias.
template <int R, int C>
void gemm_tiles(const bf16* a, int64_t a_part, int64_t Kp, const bf16* bp, const float* bias_row, float* c, int64_t ldc,
                int64_t rows, int64_t cols) {
  if (bias_row) {  // row stride 0: every row of the tile is the bias
    _tile_loadd(0, bias_row, 0);
    if constexpr (C == 2) _tile_loadd(1, bias_row + kTile, 0);
    if constexpr (R == 2) _tile_loadd(2, bias_row, 0);
    if constexpr (R == 2 && C == 2) _tile_loadd(3, bias_row + kTile, 0);
  } else {
    _tile_zero(0);
    if constexpr (C == 2) _tile_zero(1);
    if constexpr (R == 2) _tile_zero(2);
    if constexpr (R == 2 && C == 2) _tile_zero(3);
  }
  const int64_t part_b = Kp * kTile;  // bf16 of one part of one column tile
  for (int64_t k0 = 0; k0 < Kp; k0 += kStep)
    six_products<R, C>(a + k0, a_part, kTile * Kp, Kp * 2, bp + k0 * kTile, part_b, kParts * part_b, 64);
  store_tile(0, c, ldc, rows, cols);
  if constexpr (C == 2) store_tile(1, c + kTile, ldc, rows, cols - kTile);
  if constexpr (R == 2) store_tile(2, c + kTile * ldc, ldc, rows - kTile, cols);
  if constexpr (R == 2 && C == 2) store_tile(3, c + kTile * ldc + kTile, ldc, rows - kTile, cols - kTile);
}

bool gemm_panels(const float* A, int64_t M, int64_t K, const float* Bp_floats, int64_t N, const float* bias, float* C,
                 int64_t ldc, int64_t p0, int64_t p1) {
  if (M <= 0 || p1 <= p0) return true;
  if (M < kMinRows) return false;  // the caller's OpenBLAS path (sgemv) is faster
  const int64_t Kp = depth_pad(K), pair = 2 * kTile;
  const int64_t fit = kChunkBytes / (kParts * Kp * 2) / pair * pair;  // rows of A per chunk
  const int64_t Mc = fit < pair ? pair : (fit > round_up(M, pair) ? round_up(M, pair) : fit);
  bf16* a = split_buffer.get(kParts * Mc * Kp);
  if (!a) return false;  // the caller falls back to OpenBLAS on the unpacked weight
  const bf16* Bp = reinterpret_cast<const bf16*>(Bp_floats);
  const int64_t panel_bf16 = 2 * kParts * Kp * kTile;
  const TileSession tiles;
  for (int64_t m0 = 0; m0 < M; m0 += Mc) {
    const int64_t mc = M - m0 < Mc ? M - m0 : Mc;
    split_rows(A + m0 * K, K, mc, Kp, Mc, a);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t c0 = p * kPanel, cols = N - c0;
      alignas(64) float bias_row[kPanel];
      if (bias) {
        _mm512_store_ps(bias_row, load_lanes(bias + c0, cols));
        _mm512_store_ps(bias_row + kTile, load_lanes(bias + c0 + kTile, cols - kTile));
      }
      const bf16* bp = Bp + p * panel_bf16;
      for (int64_t r0 = 0; r0 < mc; r0 += pair) {
        const int64_t rows = mc - r0;
        const bf16* ar = a + r0 * Kp;
        float* c = C + (m0 + r0) * ldc + c0;
        const float* br = bias ? bias_row : nullptr;
        if (rows > kTile) {
          cols > kTile ? gemm_tiles<2, 2>(ar, Mc * Kp, Kp, bp, br, c, ldc, rows, cols)
                       : gemm_tiles<2, 1>(ar, Mc * Kp, Kp, bp, br, c, ldc, rows, cols);
        } else {
          cols > kTile ? gemm_tiles<1, 2>(ar, Mc * Kp, Kp, bp, br, c, ldc, rows, cols)
                       : gemm_tiles<1, 1>(ar, Mc * Kp, Kp, bp, br, c, ldc, rows, cols);
        }
      }
    }
  }
  return true;
}

}  // namespace

FlashKernel flash_kernel() {
  FlashKernel k = avx512::flash_kernel();
  k.panel_width = kPanel;
  k.packed_floats = packed_floats;
  k.pack_panels = pack_panels;
  k.gemm_panels = gemm_panels;
  return k;
}

}  // namespace amx
}  // namespace na
#endif
