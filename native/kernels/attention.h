// Scaled dot-product attention over already projected heads:
//   O[b,h] = softmax(scale · Q[b,h] · K[b,h]ᵀ + mask) · V[b,h]
// Heads are addressed through strides, so the same kernel reads [B, H, L, D] tensors
// and the column slices of a merged [B, L, H·D] projection without copying.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common.h"
#include "compute_pool.h"
#include "softmax.h"

namespace na {

// Element (b, h, i, d) of a head tensor lives at
//   data + b·batch_stride + h·head_stride + i·row_stride + d   (strides in elements).
// `row_stride` is the BLAS leading dimension (must fit int).
struct HeadsIn {
  const float* data;
  int64_t batch_stride, head_stride, row_stride;
};
struct HeadsOut {
  float* data;
  int64_t batch_stride, head_stride, row_stride;
};

// Mask element (b, h, i, j) at
//   data + b·batch_stride + h·head_stride + i·query_stride + j·key_stride   (elements);
// a stride of 0 broadcasts that axis. Never expanded in memory.
struct MaskSpec {
  MaskKind kind = MaskKind::None;
  const void* data = nullptr;
  int64_t batch_stride = 0, head_stride = 0, query_stride = 0, key_stride = 0;

  // The address `elements` elements (of this mask's type) past data.
  const void* at(int64_t elements) const {
    return static_cast<const char*>(data) + elements * (kind == MaskKind::Bool ? 1 : int64_t(sizeof(float)));
  }
};

struct AttentionShape {
  int64_t B, H, Lq, Lk, Dk, Dv;
};

struct AttentionParams {
  float scale = 1.0f;
  MaskSpec mask;
  // Bottom-right aligned: query i may see keys j <= i + (Lk - Lq).
  bool causal = false;
  // Sliding window (with causal only; 0: none): query i also sees no key j <= i + (Lk - Lq)
  // - window, i.e. at most the last `window` keys up to its causal limit (Mistral's rule).
  int64_t window = 0;
  const int32_t* key_lengths = nullptr;  // [B] or null; only keys j < key_lengths[b] are real
  float* weights = nullptr;              // [B, H, Lq, Lk] probabilities out, or null
};

// Query rows per task of the path with weights (OpenBLAS Q·Kᵀ, softmax rows, P·V): the
// block's scores (rows × Lk floats) stay near L2-sized.
int64_t attention_query_block(int64_t Lq, int64_t Lk);

// Floats of scratch attention_heads needs for `threads` threads: the fused kernel's
// per-thread tiles and packed keys of one head, O(threads · (block + Lk·Dk)), with or
// without weights (the weights themselves go straight into params.weights). -1 when that
// overflows.
int64_t attention_scratch_floats(const AttentionShape& s, int threads, bool weights);

// Checks that every size is at least 1 and within the BLAS int limits of every product.
Status attention_check(const AttentionShape& s, const HeadsIn& q, const HeadsIn& k, const HeadsIn& v,
                       const HeadsOut& o);

// Runs in parallel over batch × head × query block on the lease's threads. The output
// comes from the fused kernel (flash_attention.h; the instruction set is picked at run
// time, see cpu_features.h). With params.weights, exact probabilities are also written there
// (OpenBLAS Q·Kᵀ, then softmax rows); the output is the same bits as without weights.
void attention_heads(const Lease& lease, const AttentionShape& s, const HeadsIn& q, const HeadsIn& k, const HeadsIn& v,
                     const HeadsOut& o, const AttentionParams& p, float* scratch);

}  // namespace na
