// Rotary position embeddings (RoPE): each query and key head has pairs of features rotated by
// an angle proportional to the token's absolute position, so that q·k depends on the
// positions' difference. Applied to the projected heads in place, before the scores.
#pragma once
#include <cstdint>
#include <vector>

#include "compute_pool.h"

namespace na {

struct Rotary {
  // Features rotated per head (even, <= the head size); 0: no rotary embedding.
  int64_t dim = 0;
  // false: pairs (i, i + dim/2) ("rotate-half": HF LLaMA, GPT-NeoX); true: pairs (2i, 2i+1)
  // (GPT-J, Meta's original LLaMA).
  bool interleaved = false;
  // dim/2 angular frequencies: pair i at position p turns by p·inv_freq[i] radians. lib/
  // computes them (base^(-2i/dim), with any long-context scaling already applied), so the
  // kernel knows nothing of scaling schemes. Angles are computed in double: positions in
  // the tens of thousands times frequencies near 1 would lose their fraction in float.
  std::vector<double> inv_freq;
};

// Projected heads, strided: element (batch b, row l, head h, feature d) at
//   data + b·batch_stride + l·row_stride + h·head_stride + d.
struct RotaryRows {
  float* data;
  int64_t batch, length, heads;
  int64_t batch_stride, row_stride, head_stride;
};

// Rotates every head of every row in place, row l of each batch entry at position
// first_position + l; in parallel over rows.
void rotary_apply(const Lease& lease, const Rotary& rot, const RotaryRows& x, int64_t first_position);

// One row: `heads` heads of features at x + h·head_stride, at `position`.
void rotary_row(const Rotary& rot, float* x, int64_t heads, int64_t head_stride, int64_t position);

}  // namespace na
