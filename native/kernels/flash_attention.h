// Fused ("flash") attention for one task: a block of query rows of one (batch, head), with
// keys and values streamed in blocks and an online softmax, so no score matrix larger than
// one block × one key block ever exists. No BLAS call inside.
//
// This header is included by every instruction-set unit (flash_attention_{generic,avx2,
// avx512}.cpp, gemm_amx.cpp): it holds only plain structs and declarations, nothing inline
// or templated, so no function compiled with one unit's flags can be picked by the linker
// for another.
#pragma once
#include <cstdint>

#include "softmax.h"

namespace na {

// Operands of one product on the Q·Kᵀ micro-tiles, S[mr][panels·kNR] (+)= A[mr][depth] · B:
// A's rows lda floats apart, B in kNR-wide panels [depth][kNR] panel_stride floats apart.
// Attention passes Q rows and packed keys (lda = depth = Dk); the packed-weight GEMM passes
// one depth chunk of A's rows (lda = K, or its re-strided copy's stride) and of every panel
// (panel_stride = K·kNR).
struct PanelOperands {
  const float* a;
  int64_t lda;
  const float* b;
  int64_t panel_stride;
  int64_t depth;
};

// One task: rows [i0, i0 + rows) of head (b, h).
//   Q: rows × Dk, row i at q + (i - i0)·ldq
//   K: keys × Dk, key j at k + j·ldk   (packed per thread into panels, see below)
//   V: keys × Dv, key j at v + j·ldv   (read in place)
//   O: rows × Dv, row i at o + (i - i0)·ldo   (may be the merged-heads matrix [B, L, H·Dv])
// Mask element (i, j) at mask + (i - i0)·mask_query_stride + j·mask_key_stride (elements of
// the kind's type; stride 0 broadcasts).
struct FlashTask {
  const float* q;
  const float* k;
  const float* v;
  float* o;
  int64_t ldq, ldk, ldv, ldo;
  int64_t Dk, Dv;
  int64_t i0, rows;
  int64_t keys;          // keys that exist for this batch (Lk, or its key length): [0, keys)
  int64_t causal_shift;  // causal: query i sees keys j <= i + causal_shift; else ignored
  bool causal;
  int64_t window;  // with causal, > 0: query i also sees no key j <= i + causal_shift - window
  float scale;
  MaskKind mask_kind;
  const void* mask;  // element (i0, 0) of this head's mask, or null
  int64_t mask_query_stride, mask_key_stride;
  // Identifies (call, b, h): the thread keeps its packed keys while this stays the same.
  int64_t head_tag;
};

// The decode kernel's task: a few query rows (the heads of one key/value group × a few new
// tokens) against one chunk of keys [j0, j1), which are read in place (not packed: each
// key is used by these rows only). Row r = head i · tokens + token t:
//   query at q + i·q_head_stride + t·q_token_stride (Dk floats)
//   key j at k + j·ldk, value j at v + j·ldv
// Token t sees keys j <= past + t, and with window > 0 also j > past + t - window. The
// result is the chunk's partial softmax per row, at partial + r·(Dv + 2): the row maximum
// m, the sum l of exp(s - m), then O = Σ exp(s - m)·v unnormalised (m = -inf, l = 0, O = 0
// when the row sees no key of the chunk); decode_merge (attention.cpp) combines chunks.
constexpr int64_t kDecodeRows = 16;    // rows of one task at most
constexpr int64_t kDecodeChunk = 512;  // keys of one task at most
struct DecodeTask {
  const float* q;
  int64_t q_head_stride, q_token_stride;
  int64_t heads, tokens;
  const float* k;
  const float* v;
  int64_t ldk, ldv;
  int64_t Dk, Dv;
  int64_t j0, j1;
  int64_t past, window;
  float scale;
  float* partial;
};

// One instruction set's fused kernel.
struct FlashKernel {
  int64_t query_block;  // rows per task
  // Floats of per-thread scratch for keys [0, Lk) of Dk/Dv-sized heads (a multiple of 16).
  int64_t (*scratch_floats)(int64_t Lk, int64_t Dk, int64_t Dv);
  // Runs one task. `scratch` is this thread's 64-byte aligned region of scratch_floats();
  // its first 16 floats are a header that must be reset (reset_scratch) once per call.
  void (*run)(const FlashTask& t, float* scratch);
  // Floats of per-thread scratch for decode tasks of Dk/Dv-sized heads (a multiple of 16).
  int64_t (*decode_scratch_floats)(int64_t Dk, int64_t Dv);
  // Runs one decode task; `scratch` is this thread's 64-byte aligned region.
  void (*decode)(const DecodeTask& t, float* scratch);

  // GEMM on a weight packed once (experimental: no caller in the library yet; see
  // bench/native/projection_gemm.cpp). The packed layout is this instruction set's own.
  int64_t panel_width;  // columns of one packed panel (the micro-tile width)
  // Floats of the packed copy of a [K, N] matrix: ceil(N / panel_width) panels of K × panel_width.
  int64_t (*packed_floats)(int64_t K, int64_t N);
  // Packs row-major B[K, N] (row stride ldb) into panels [ceil(N/w)][K][w], zero-padded;
  // `out` is 64-byte aligned and holds packed_floats(K, N).
  void (*pack_panels)(const float* B, int64_t ldb, int64_t K, int64_t N, float* out);
  // C[M, N] (row stride ldc) = A[M, K] · B + bias[N] (bias may be null) for the columns of
  // panels [p0, p1) only (disjoint panel ranges may run on different threads); A is
  // row-major with row stride K, Bp = pack_panels(B). Nothing past column N is written.
  // False when it declined or could not run (the AMX kernel leaves one-row products to
  // OpenBLAS's sgemv, and needs a buffer for A that may fail to allocate): those columns of
  // C are then undefined and the caller computes them with OpenBLAS on the unpacked weight.
  bool (*gemm_panels)(const float* A, int64_t M, int64_t K, const float* Bp, int64_t N, const float* bias, float* C,
                      int64_t ldc, int64_t p0, int64_t p1);
};

// Marks a thread's scratch as holding no packed keys (call before each attention call).
void flash_reset_scratch(float* scratch);

namespace generic {
FlashKernel flash_kernel();
void softmax_row(float* s, int limit, int width, const MaskRow& mask);
}  // namespace generic
namespace avx2 {
FlashKernel flash_kernel();
void softmax_row(float* s, int limit, int width, const MaskRow& mask);
}  // namespace avx2
namespace avx512 {
FlashKernel flash_kernel();
void softmax_row(float* s, int limit, int width, const MaskRow& mask);
}  // namespace avx512
namespace amx {
FlashKernel flash_kernel();  // avx512's, with the packed GEMM on the tile unit
}  // namespace amx

}  // namespace na
