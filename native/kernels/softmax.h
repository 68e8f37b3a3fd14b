// The fused step between Q·Kᵀ and P·V: mask, then a numerically stable softmax, in
// place on one row of scores (the scale was already applied as the GEMM's alpha).
#pragma once
#include <cstdint>

namespace na {

enum class MaskKind : int {
  None = 0,
  Bool = 1,      // uint8: nonzero = may attend, 0 = masked
  Additive = 2,  // float32: added to the scaled score (-inf masks)
};

// The mask as seen by one score row: element j is at data + j * stride (in elements of
// the kind's type); stride 0 broadcasts one value over the row.
struct MaskRow {
  MaskKind kind = MaskKind::None;
  const void* data = nullptr;
  int64_t stride = 0;
};

// s[0, limit): scores to mask and normalise; s[limit, width): forced to 0 (keys beyond
// a causal limit or a key length, never computed or never meant to be seen).
// A row where nothing may be attended to (every score masked to -inf) becomes all
// zeros rather than NaN: the ONNX / PyTorch SDPA convention, so the query's output is 0.
// NaN scores propagate to NaN probabilities.
void masked_softmax_row(float* s, int limit, int width, const MaskRow& mask);

}  // namespace na
