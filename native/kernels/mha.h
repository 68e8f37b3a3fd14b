// Multi-head attention forward: input projections, attention over heads, output
// projection. Weights are stored in y = x·W + b orientation with head-major columns.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "attention.h"
#include "common.h"
#include "compute_pool.h"
#include "kv_cache.h"
#include "rotary.h"

namespace na {

// The layer's sizes, in one naming scheme: E query features, Ek key input features,
// Ev value input features, Eo output features (lib/'s embedDim, kdim, vdim, outputDim);
// H query heads of Dk query/key features; Hkv key/value heads (Hkv divides H: query head
// h reads key/value head h / (H / Hkv), grouped-query attention; Hkv = H is plain
// multi-head attention) of Dk key and Dv value features each.
struct MhaDims {
  int64_t E, Ek, Ev, Eo, H, Hkv, Dk, Dv;
  bool bias;
};

// The most weights a layer may have (8 GiB of floats): larger ones could only end in the
// OOM killer, since Linux overcommits. Exported to lib/ as limits.maxParameters.
constexpr int64_t kMaxParameters = int64_t(1) << 31;

// Weights up to this many floats (16 MiB) also keep a copy packed for our own GEMM
// (gemm_packed) on the AVX-512 and AMX paths: on AVX-512 it beats OpenBLAS, which repacks the
// weight on every call, by 5–25% on the projections, on AMX (three bfloat16 parts per float)
// it takes 0.3–0.5× OpenBLAS's time (bench/NOTES.md, issue 10). The copy takes the weights'
// size again (1.5× on AMX), which is why larger layers do without.
constexpr int64_t kPackedMaxFloats = int64_t(4) << 20;

// std::allocator with 64-byte alignment (the micro-tiles load packed panels aligned).
template <typename T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <typename U>
  explicit Aligned64(const Aligned64<U>&) {}
  T* allocate(size_t n);
  void deallocate(T* p, size_t) { std::free(p); }
  bool operator==(const Aligned64&) const { return true; }
  bool operator!=(const Aligned64&) const { return false; }
};
template <typename T>
T* Aligned64<T>::allocate(size_t n) {
  void* p = std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64);
  if (!p) throw std::bad_alloc();
  return static_cast<T*>(p);
}

// The layer's parameters. When the query, key and value inputs all have E features, the
// three input projections live side by side in one [E, H·(2Dk+Dv)] matrix, so
// self-attention projects Q, K and V in a single GEMM and K,V (cross-attention over one
// memory tensor) in another; each of wq, wk, wv is then a column slice of it.
class MhaWeights {
 public:
  enum Name { WQ = 0, BQ, WK, BK, WV, BV, WO, BO, kCount };
  struct Slot {
    float* data;  // null when absent (biases of a layer without bias)
    int64_t rows, cols, ld;
  };

  // Sizes must have passed mha_check_dims; so must the rotary settings (mha_check_rotary).
  explicit MhaWeights(const MhaDims& d, Rotary rotary = {});
  const MhaDims& dims() const { return d_; }
  // Rotary embedding of queries and keys (dim 0: none): a property of the layer, kept with
  // its weights so that an async call holds both.
  const Rotary& rotary() const { return rotary_; }
  bool packed() const { return packed_; }
  Slot slot(Name n) const;

  // Copy a contiguous [rows, cols] array in or out of a slot.
  void write(Name n, const float* src);
  void read(Name n, float* dst) const;

  // The packed copies for gemm_packed (null when this layer keeps none, see
  // kPackedMaxFloats): all input projections [E, H·Dk + Hkv·(Dk + Dv)] (packed layers only)
  // and wo [H·Dv, Eo].
  const float* packed_in() const { return packed_in_.empty() ? nullptr : packed_in_.data(); }
  const float* packed_out() const { return packed_out_.empty() ? nullptr : packed_out_.data(); }

 private:
  MhaDims d_;
  Rotary rotary_;
  bool packed_;
  std::vector<float> w_in_;  // packed [E, Nt], or wq | wk | wv stored one after another
  std::vector<float> b_in_;  // [H·(2Dk+Dv)]: bq | bk | bv
  std::vector<float> wo_, bo_;
  std::vector<float, Aligned64<float>> packed_in_, packed_out_;
};

// Every size >= 1, Hkv divides H, every GEMM dimension within BLAS's int, at most
// kMaxParameters weights.
Status mha_check_dims(const MhaDims& d);

// dim even, in [0, Dk], with dim/2 finite frequencies.
Status mha_check_rotary(const MhaDims& d, const Rotary& r);

struct MhaInputs {
  int64_t B, Lq, Lk;
  const float* query;  // [B, Lq, E]
  const float* key;    // [B, Lk, Ek]
  const float* value;  // [B, Lk, Ev]
  // Packed sequences (B = 1, Lq = Lk = T): the rows hold consecutive sequences of these
  // lengths (summing to T), and each attends only within itself: block-diagonal
  // attention, with no padding projected or attended. Null: one sequence per batch row.
  const int32_t* sequence_lengths = nullptr;
  int64_t sequences = 0;
};

// out: [B, Lq, Eo]. params.weights, when set, receives [B, H, Lq, Lk] probabilities
// (layers with Hkv = H only).
// `params.scale` is the softmax scale. Workspace comes from the process pool.
Status mha_forward(const Lease& lease, const MhaWeights& w, const MhaInputs& in, const AttentionParams& params,
                   float* out);

// Self-attention that appends to a key/value cache: `x` [rows, E] holds the new tokens of
// `segments` cache rows, segment s being `lengths[s]` consecutive rows for cache row
// `cache_rows[s]` (distinct), which already holds `past[s]` tokens. Each new token is
// projected, rotated at position past[s] + t, appended at that position, and attends
// causally (within params.window) to everything its row holds up to itself.
struct CachedInputs {
  const float* x;
  int64_t rows;
  int64_t segments;
  const int32_t* lengths;
  const int32_t* cache_rows;
  const int32_t* past;
};

// out: [rows, Eo]. The layer must be self-attention shaped (Ek = Ev = E) and the cache
// made for it (Hkv heads of Dk and Dv); past[s] + lengths[s] <= its max length. The
// caller updates its lengths after success; on failure the cache's filled prefixes are
// untouched (only positions past them may have been written).
Status mha_forward_cached(const Lease& lease, const MhaWeights& w, const KvCache& cache, const CachedInputs& in,
                          const AttentionParams& params, float* out);

// Multiply-adds of one forward call: for choosing how many threads to lease.
int64_t mha_macs(const MhaDims& d, int64_t B, int64_t Lq, int64_t Lk);
// The same for a cached call.
int64_t mha_cached_macs(const MhaDims& d, const CachedInputs& in);

}  // namespace na
