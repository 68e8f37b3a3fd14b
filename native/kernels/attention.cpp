#include "attention.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "cpu_features.h"
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

int64_t attention_scratch_floats(const AttentionShape& s, int threads, bool) {
  // The fused kernel's, with or without weights (it computes the output in both cases):
  // per thread, O(block) tiles plus the packed keys of one head (O(Lk·Dk)).
  if (s.Lk < 0 || s.Dk < 0 || s.Dv < 0 || checked_product({s.Lk, s.Dk}) < 0) return -1;
  return checked_product({threads, kernels().flash.scratch_floats(s.Lk, s.Dk, s.Dv)});
}

Status attention_check(const AttentionShape& s, const HeadsIn& q, const HeadsIn& k, const HeadsIn& v,
                       const HeadsOut& o) {
  for (int64_t d : {s.B, s.H, s.Lq, s.Lk, s.Dk, s.Dv})
    if (d < 1) return Status::InvalidArgument;  // every size >= 1 (attention_heads relies on it)
  for (int64_t d : {s.Lq, s.Lk, s.Dk, s.Dv, q.row_stride, k.row_stride, v.row_stride, o.row_stride})
    if (d > kBlasIntMax) return Status::TooLarge;
  if (q.row_stride < s.Dk || k.row_stride < s.Dk || v.row_stride < s.Dv || o.row_stride < s.Dv)
    return Status::InvalidArgument;
  return Status::Ok;
}

namespace {

MaskRow mask_row(const MaskSpec& m, int64_t b, int64_t h, int64_t i) {
  MaskRow r;
  r.kind = m.kind;
  r.stride = m.key_stride;
  if (m.kind == MaskKind::None) return r;
  r.data = m.at(b * m.batch_stride + h * m.head_stride + i * m.query_stride);
  return r;
}

}  // namespace

void flash_reset_scratch(float* scratch) {
  const int64_t none = -1;
  std::memcpy(scratch, &none, sizeof none);
}

namespace {

// Without weights: the fused kernel (flash_attention_body.inc), one task per (batch, head,
// block of query rows), head-major so a thread's packed keys serve its next blocks. One task
// runs on one thread from start to end, so results do not depend on the thread count.
void fused_heads(const Lease& lease, const AttentionShape& s, const HeadsIn& q, const HeadsIn& k, const HeadsIn& v,
                 const HeadsOut& o, const AttentionParams& p, float* scratch) {
  const FlashKernel& fk = kernels().flash;
  const int64_t qb = fk.query_block;
  const int64_t blocks = (s.Lq + qb - 1) / qb;
  const int64_t tasks = s.B * s.H * blocks;
  const int64_t per_thread = fk.scratch_floats(s.Lk, s.Dk, s.Dv);
  const int threads = lease.threads();
  for (int t = 0; t < threads; ++t) flash_reset_scratch(scratch + t * per_thread);

  lease.parallel_for(tasks, [&](int64_t t, int tid) {
    int64_t blk = t % blocks;
    // Causal: later blocks see more keys; handing them out first evens out the threads' ends.
    if (p.causal) blk = blocks - 1 - blk;
    const int64_t h = (t / blocks) % s.H;
    const int64_t b = t / (blocks * s.H);
    FlashTask ft;
    ft.i0 = blk * qb;
    ft.rows = std::min(qb, s.Lq - ft.i0);
    ft.q = q.data + b * q.batch_stride + h * q.head_stride + ft.i0 * q.row_stride;  // [rows, Dk]
    ft.k = k.data + b * k.batch_stride + h * k.head_stride;                         // [Lk, Dk]
    ft.v = v.data + b * v.batch_stride + h * v.head_stride;                         // [Lk, Dv]
    ft.o = o.data + b * o.batch_stride + h * o.head_stride + ft.i0 * o.row_stride;  // [rows, Dv]
    ft.ldq = q.row_stride;
    ft.ldk = k.row_stride;
    ft.ldv = v.row_stride;
    ft.ldo = o.row_stride;
    ft.Dk = s.Dk;
    ft.Dv = s.Dv;
    ft.keys = p.key_lengths ? std::clamp<int64_t>(p.key_lengths[b], 0, s.Lk) : s.Lk;
    ft.causal = p.causal;
    ft.causal_shift = s.Lk - s.Lq;  // bottom-right alignment
    ft.window = p.causal ? p.window : 0;
    ft.scale = p.scale;
    ft.mask_kind = p.mask.kind;
    ft.mask = nullptr;
    ft.mask_query_stride = p.mask.query_stride;
    ft.mask_key_stride = p.mask.key_stride;
    if (p.mask.kind != MaskKind::None) {
      ft.mask = p.mask.at(b * p.mask.batch_stride + h * p.mask.head_stride + ft.i0 * p.mask.query_stride);
    }
    ft.head_tag = b * s.H + h;
    fk.run(ft, scratch + tid * per_thread);
  });
}

}  // namespace

void attention_heads(const Lease& lease, const AttentionShape& s, const HeadsIn& q, const HeadsIn& k, const HeadsIn& v,
                     const HeadsOut& o, const AttentionParams& p, float* scratch) {
  // The output always comes from the fused kernel, so forward and forwardWithWeights give
  // bit-identical outputs (as they did when both used OpenBLAS).
  fused_heads(lease, s, q, k, v, o, p, scratch);
  if (!p.weights) return;
  // Exact probabilities into params.weights [B, H, Lq, Lk]: OpenBLAS Q·Kᵀ, softmax rows.
  const int64_t qb = attention_query_block(s.Lq, s.Lk);
  const int64_t blocks = (s.Lq + qb - 1) / qb;
  const int64_t tasks = s.B * s.H * blocks;
  const int64_t offset = s.Lk - s.Lq;  // causal diagonal offset (bottom-right alignment)

  lease.parallel_for(tasks, [&](int64_t t, int) {
    const int64_t blk = t % blocks;
    const int64_t h = (t / blocks) % s.H;
    const int64_t b = t / (blocks * s.H);
    const int64_t i0 = blk * qb;
    const int rows = int(std::min(qb, s.Lq - i0));

    // Keys this block can see at all: the key length, and for causal the last row's limit.
    int64_t cols = s.Lk;
    if (p.key_lengths) cols = std::clamp<int64_t>(p.key_lengths[b], 0, s.Lk);
    if (p.causal) cols = std::clamp<int64_t>(i0 + rows + offset, 0, cols);

    float* S = p.weights + ((b * s.H + h) * s.Lq + i0) * s.Lk;  // [rows, Lk]
    const int64_t lds = s.Lk, width = s.Lk;
    const float* Qp =
        q.data + b * q.batch_stride + h * q.head_stride + i0 * q.row_stride;  // [rows, Dk], ld q.row_stride
    const float* Kp = k.data + b * k.batch_stride + h * k.head_stride;        // [cols, Dk], ld k.row_stride
    if (cols > 0) {
      // S[rows, cols] = scale · Q_blk · K[:cols]ᵀ: keys past `cols` are skipped, not computed.
      sgemm(true, rows, int(cols), int(s.Dk), p.scale, Qp, int(q.row_stride), Kp, int(k.row_stride), 0.0f, S, int(lds));
    }
    for (int r = 0; r < rows; ++r) {
      const int64_t i = i0 + r;
      int64_t limit = cols;
      if (p.causal) limit = std::clamp<int64_t>(i + offset + 1, 0, cols);
      if (p.causal && p.window > 0) {  // keys before the window: masked like any other
        const int64_t start = std::clamp<int64_t>(i + offset + 1 - p.window, 0, limit);
        std::fill(S + r * lds, S + r * lds + start, -std::numeric_limits<float>::infinity());
      }
      masked_softmax_row(S + r * lds, int(limit), int(width), mask_row(p.mask, b, h, i));
    }
  });
}

}  // namespace na
