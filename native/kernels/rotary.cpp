#include "rotary.h"

#include <algorithm>
#include <cmath>

namespace na {

void rotary_row(const Rotary& rot, float* x, int64_t heads, int64_t head_stride, int64_t position) {
  const int64_t half = rot.dim / 2;
  // Pair i is features (a, b): (i, i + half) or (2i, 2i + 1).
  const int64_t step = rot.interleaved ? 2 : 1, other = rot.interleaved ? 1 : half;
  for (int64_t i = 0; i < half; ++i) {
    const double angle = double(position) * rot.inv_freq[size_t(i)];
    const double c = std::cos(angle), s = std::sin(angle);
    for (int64_t h = 0; h < heads; ++h) {
      float* a = x + h * head_stride + i * step;
      float* b = a + other;
      const double xa = *a, xb = *b;
      *a = float(xa * c - xb * s);
      *b = float(xb * c + xa * s);
    }
  }
}

void rotary_apply(const Lease& lease, const Rotary& rot, const RotaryRows& x, int64_t first_position) {
  if (rot.dim == 0 || x.batch == 0 || x.length == 0) return;
  // Rows in chunks: one row's work (dim/2 sin/cos pairs, then heads·dim multiply-adds) is
  // too small to be a task of its own.
  const int64_t chunk = 16, chunks = (x.length + chunk - 1) / chunk;
  lease.parallel_for(x.batch * chunks, [&](int64_t c, int) {
    const int64_t b = c / chunks, l0 = (c % chunks) * chunk, l1 = std::min(x.length, l0 + chunk);
    for (int64_t l = l0; l < l1; ++l)
      rotary_row(rot, x.data + b * x.batch_stride + l * x.row_stride, x.heads, x.head_stride, first_position + l);
  });
}

}  // namespace na
