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
  for (int64_t d : {s.Lq, s.Lk, s.Dk, s.Dv, q.row, k.row, v.row, o.row})
    if (d > kBlasIntMax) return Status::TooLarge;
  if (q.row < s.Dk || k.row < s.Dk || v.row < s.Dv || o.row < s.Dv) return Status::InvalidArgument;
  return Status::Ok;
}

namespace {

MaskRow mask_row(const MaskSpec& m, int64_t b, int64_t h, int64_t i) {
  MaskRow r;
  r.kind = m.kind;
  r.stride = m.sk;
  if (m.kind == MaskKind::None) return r;
  const int64_t off = b * m.sb + h * m.sh + i * m.sq;
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
    const float* Qp = q.data + b * q.batch + h * q.head + i0 * q.row;  // [rows, Dk], ld q.row
    const float* Kp = k.data + b * k.batch + h * k.head;               // [cols, Dk], ld k.row
    const float* Vp = v.data + b * v.batch + h * v.head;               // [cols, Dv], ld v.row
    float* Op = o.data + b * o.batch + h * o.head + i0 * o.row;        // [rows, Dv], ld o.row

    if (cols > 0) {
      if (s.Dk > 0) {
        // S[rows, cols] = scale · Q_blk · K[:cols]ᵀ: keys past `cols` are skipped, not computed.
        sgemm(true, rows, int(cols), int(s.Dk), p.scale, Qp, int(q.row), Kp, int(k.row), 0.0f, S, int(lds));
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
      sgemm(false, rows, int(s.Dv), int(cols), 1.0f, S, int(lds), Vp, int(v.row), 0.0f, Op, int(o.row));
    } else {
      for (int r = 0; r < rows; ++r) std::memset(Op + r * o.row, 0, sizeof(float) * s.Dv);
    }
  });
}

}  // namespace na
