// Attention of a few new tokens per sequence over that sequence's cached keys and values:
// a decoding step. Memory-bound (every cached key and value is read once per step and
// key/value head), so unlike the fused kernel it packs nothing: each task reads its keys
// in place for all the query heads of their group, and long caches are split into chunks
// of kDecodeChunk keys (flash-decoding) so that even one sequence keeps every thread busy.
// Chunks depend on the sizes only, never on the thread count: results are the same bits at
// any thread count.
#pragma once
#include <cstdint>

#include "compute_pool.h"

namespace na {

// New tokens per sequence up to which a step takes this path (more go through the fused
// kernel, whose packed keys pay off over more query rows).
constexpr int64_t kDecodeMaxTokens = 8;

struct DecodeCall {
  int64_t H = 0, Hkv = 0, Dk = 0, Dv = 0;  // query heads, key/value heads (dividing H), head sizes
  int64_t sequences = 0;
  const int32_t* tokens = nullptr;  // [sequences] new tokens (>= 1; more than kDecodeMaxTokens: skipped)
  const int32_t* past = nullptr;    // [sequences] keys already held before them
  const int64_t* rows = nullptr;    // [sequences] index of the sequence's first token row in q and o
  const int32_t* kv = nullptr;      // [sequences] the sequence's row in k and v
  // Token row r, head h: query at q + r·ldq + h·Dk, output at o + r·ldo + h·Dv.
  const float* q = nullptr;
  int64_t ldq = 0;
  float* o = nullptr;
  int64_t ldo = 0;
  // Row c, key/value head g, position j: key at k + c·k_row + g·k_head + j·ldk (values alike).
  const float* k = nullptr;
  int64_t k_row = 0, k_head = 0, ldk = 0;
  const float* v = nullptr;
  int64_t v_row = 0, v_head = 0, ldv = 0;
  float scale = 1.0f;
  int64_t window = 0;  // > 0: token t of a sequence sees keys (past + t - window, past + t]
};

// Floats of workspace decode_attention needs for `threads` threads; -1 on overflow.
int64_t decode_workspace_floats(const DecodeCall& c, int threads);

// Token t of sequence s attends to keys [0, past[s] + t] of its row (which must already
// hold the new tokens' keys and values), within the window. `rows` is read here only, so
// the workspace can be sized before it is filled.
void decode_attention(const Lease& lease, const DecodeCall& c, float* workspace);

}  // namespace na
