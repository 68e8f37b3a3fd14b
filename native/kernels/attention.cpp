#include "attention.h"

#include <algorithm>
#include <cstring>

#include "gemm.h"

namespace na {

int64_t attention_query_block(int64_t Lq, int64_t Lk) {
  // About 1 MiB of scores per block (a typical L2), but at least 32 rows: the
  // Q·Kᵀ GEMM's inner dimension is only the head size, so its efficiency depends on having
  // enough rows (measured with L=2048, D=64: 16 rows 55 GFLOP/s, 64 rows 80, 256 rows 83).
  const int64_t target_floats = 262144;
  const int64_t rows = std::clamp<int64_t>(target_floats / std::max<int64_t>(Lk, 1), 32, 256);
  return std::max<int64_t>(1, std::min(rows, Lq));
}

int64_t attention_scratch_floats(const AttentionShape& s, int threads, bool weights) {
  if (weights) return 0;
  return int64_t(threads) * attention_query_block(s.Lq, s.Lk) * std::max<int64_t>(s.Lk, 1);
}

Status attention_check(const AttentionShape& s, const HeadsIn& q, const HeadsIn& k, const HeadsIn& v,
                       const HeadsOut& o) {
  for (int64_t d : {s.B, s.H, s.Lq, s.Lk, s.Dk, s.Dv})
    if (d < 0) return Status::InvalidArgument;
  for (int64_t d : {s.Lq, s.Lk, s.Dk, s.Dv, q.row_stride, k.row_stride, v.row_stride, o.row_stride})
    if (d > kBlasIntMax) return Status::TooLarge;
  if (q.row_stride < s.Dk || k.row_stride < s.Dk || v.row_stride < s.Dv || o.row_stride < s.Dv) return Status::InvalidArgument;
  return Status::Ok;
}

namespace {

MaskRow mask_row(const MaskSpec& m, int64_t b, int64_t h, int64_t i) {
  MaskRow r;
  r.kind = m.kind;
  r.stride = m.key_stride;
  if (m.kind == MaskKind::None) return r;
  const int64_t off = b * m.batch_stride + h * m.head_stride + i * m.query_stride;
  const size_t elem = m.kind == MaskKind::Bool ? 1 : sizeof(float);
  r.data = static_cast<const char*>(m.data) + off * int64_t(elem);
  return r;
}

}  // namespace

void attention_heads(const Lease& lease, const AttentionShape& s, const HeadsIn& q, const HeadsIn& k,
                     const HeadsIn& v, const HeadsOut& o, const AttentionParams& p, float* scratch) {
  const int64_t qb = attention_query_block(s.Lq, s.Lk);
  const int64_t blocks = (s.Lq + qb - 1) / qb;
  const int64_t tasks = s.B * s.H * blocks;
  const int64_t offset = s.Lk - s.Lq;  // causal diagonal offset (bottom-right alignment)

  lease.parallel_for(tasks, [&](int64_t t, int tid) {
    const int64_t blk = t % blocks;
    const int64_t h = (t / blocks) % s.H;
    const int64_t b = t / (blocks * s.H);
    const int64_t i0 = blk * qb;
    const int rows = int(std::min(qb, s.Lq - i0));

    // Keys this block can see at all: the key length, and for causal the last row's limit.
    int64_t cols = s.Lk;
    if (p.key_lengths) cols = std::clamp<int64_t>(p.key_lengths[b], 0, s.Lk);
    if (p.causal) cols = std::clamp<int64_t>(i0 + rows + offset, 0, cols);

    // Scores: straight into the caller's weights when asked for, else per-thread scratch.
    float* S;
    int64_t lds, width;
    if (p.weights) {
      S = p.weights + ((b * s.H + h) * s.Lq + i0) * s.Lk;
      lds = width = s.Lk;
    } else {
      S = scratch + int64_t(tid) * qb * std::max<int64_t>(s.Lk, 1);
      lds = std::max<int64_t>(cols, 1);
      width = cols;
    }
    const float* Qp = q.data + b * q.batch_stride + h * q.head_stride + i0 * q.row_stride;  // [rows, Dk], ld q.row_stride
    const float* Kp = k.data + b * k.batch_stride + h * k.head_stride;               // [cols, Dk], ld k.row_stride
    const float* Vp = v.data + b * v.batch_stride + h * v.head_stride;               // [cols, Dv], ld v.row_stride
    float* Op = o.data + b * o.batch_stride + h * o.head_stride + i0 * o.row_stride;        // [rows, Dv], ld o.row_stride

    if (cols > 0) {
      if (s.Dk > 0) {
        // S[rows, cols] = scale · Q_blk · K[:cols]ᵀ: keys past `cols` are skipped, not computed.
        sgemm(true, rows, int(cols), int(s.Dk), p.scale, Qp, int(q.row_stride), Kp, int(k.row_stride), 0.0f, S, int(lds));
      } else {
        for (int r = 0; r < rows; ++r) std::memset(S + r * lds, 0, sizeof(float) * cols);
      }
    }
    for (int r = 0; r < rows; ++r) {
      const int64_t i = i0 + r;
      int64_t limit = cols;
      if (p.causal) limit = std::clamp<int64_t>(i + offset + 1, 0, cols);
      masked_softmax_row(S + r * lds, int(limit), int(width), mask_row(p.mask, b, h, i));
    }
    if (cols > 0 && s.Dv > 0) {
      // O_blk[rows, Dv] = P[rows, cols] · V[:cols], written into the head's columns in place.
      sgemm(false, rows, int(s.Dv), int(cols), 1.0f, S, int(lds), Vp, int(v.row_stride), 0.0f, Op, int(o.row_stride));
    } else {
      for (int r = 0; r < rows; ++r) std::memset(Op + r * o.row_stride, 0, sizeof(float) * s.Dv);
    }
  });
}

}  // namespace na
