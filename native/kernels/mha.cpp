#include "mha.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu_features.h"
#include "decode_attention.h"
#include "gemm.h"
#include "workspace.h"

namespace na {

Status mha_check_dims(const MhaDims& d) {
  for (int64_t x : {d.E, d.Ek, d.Ev, d.Eo, d.H, d.Hkv, d.Dk, d.Dv})
    if (x < 1) return Status::InvalidArgument;
  if (d.H % d.Hkv != 0) return Status::InvalidArgument;
  const int64_t nt = checked_product({d.H, 2 * d.Dk + d.Dv});  // bounds the width of [wq | wk | wv]
  if (nt < 0 || nt > kBlasIntMax) return Status::TooLarge;
  for (int64_t x : {d.E, d.Ek, d.Ev, d.Eo})
    if (x > kBlasIntMax) return Status::TooLarge;
  const int64_t hk = d.H * d.Dk, hv = d.H * d.Dv;
  const int64_t in_q = checked_product({d.E, hk}), in_k = checked_product({d.Ek, d.Hkv * d.Dk});
  const int64_t in_v = checked_product({d.Ev, d.Hkv * d.Dv}), out = checked_product({hv, d.Eo});
  int64_t params = 0;
  for (int64_t n : {in_q, in_k, in_v, out})
    if (n < 0 || !checked_add(params, n, &params)) return Status::TooLarge;
  if (params > kMaxParameters) return Status::TooLarge;
  return Status::Ok;
}

Status mha_check_rotary(const MhaDims& d, const Rotary& r) {
  if (r.dim < 0 || r.dim % 2 != 0 || r.dim > d.Dk || int64_t(r.inv_freq.size()) != r.dim / 2)
    return Status::InvalidArgument;
  for (double f : r.inv_freq)
    if (!std::isfinite(f)) return Status::InvalidArgument;
  return Status::Ok;
}

MhaWeights::MhaWeights(const MhaDims& d, Rotary rotary)
    : d_(d), rotary_(std::move(rotary)), packed_(d.E == d.Ek && d.E == d.Ev) {
  const int64_t hq = d.H * d.Dk, hk = d.Hkv * d.Dk, hv = d.Hkv * d.Dv;
  w_in_.assign(size_t(d.E * hq + d.Ek * hk + d.Ev * hv), 0.0f);
  if (d.bias) {
    b_in_.assign(size_t(hq + hk + hv), 0.0f);
    bo_.assign(size_t(d.Eo), 0.0f);
  }
  wo_.assign(size_t(d.H * d.Dv * d.Eo), 0.0f);
  const int64_t floats = int64_t(w_in_.size() + wo_.size());
  if (kernels().isa >= Isa::Avx512 && floats <= kPackedMaxFloats) {  // all zero, like the weights
    const FlashKernel& fk = kernels().flash;
    if (packed_) packed_in_.assign(size_t(fk.packed_floats(d.E, hq + hk + hv)), 0.0f);
    packed_out_.assign(size_t(fk.packed_floats(d.H * d.Dv, d.Eo)), 0.0f);
  }
}

MhaWeights::Slot MhaWeights::slot(Name n) const {
  // Columns: wq is H·Dk wide, wk Hkv·Dk, wv Hkv·Dv; packed side by side, nt wide in all.
  const int64_t hq = d_.H * d_.Dk, hk = d_.Hkv * d_.Dk, hv = d_.Hkv * d_.Dv, nt = hq + hk + hv;
  float* w = const_cast<float*>(w_in_.data());
  float* b = d_.bias ? const_cast<float*>(b_in_.data()) : nullptr;
  switch (n) {
    case WQ: return {w, d_.E, hq, packed_ ? nt : hq};
    case WK: return packed_ ? Slot{w + hq, d_.Ek, hk, nt} : Slot{w + d_.E * hq, d_.Ek, hk, hk};
    case WV: return packed_ ? Slot{w + hq + hk, d_.Ev, hv, nt} : Slot{w + d_.E * hq + d_.Ek * hk, d_.Ev, hv, hv};
    case BQ: return {b, 1, hq, hq};
    case BK: return {b ? b + hq : nullptr, 1, hk, hk};
    case BV: return {b ? b + hq + hk : nullptr, 1, hv, hv};
    case WO: return {const_cast<float*>(wo_.data()), d_.H * d_.Dv, d_.Eo, d_.Eo};
    case BO: return {d_.bias ? const_cast<float*>(bo_.data()) : nullptr, 1, d_.Eo, d_.Eo};
    default: return {nullptr, 0, 0, 0};
  }
}

void MhaWeights::write(Name n, const float* src) {
  const Slot s = slot(n);
  if (!s.data) return;
  for (int64_t r = 0; r < s.rows; ++r) std::memcpy(s.data + r * s.ld, src + r * s.cols, sizeof(float) * s.cols);
  // Repack the panels of the packed copy that hold this slot's columns.
  const FlashKernel& fk = kernels().flash;
  const int64_t w = fk.panel_width;
  const auto repack = [&](const float* B, int64_t ldb, int64_t K, int64_t N, float* packed, int64_t c0, int64_t c1) {
    const int64_t p0 = c0 / w, p1 = (c1 + w - 1) / w;
    // Panels are equal in size: the first p0 of them take packed_floats(K, p0·w).
    fk.pack_panels(B + p0 * w, ldb, K, std::min(N, p1 * w) - p0 * w,
                   packed + (p0 > 0 ? fk.packed_floats(K, p0 * w) : 0));
  };
  if (n == WO && !packed_out_.empty()) repack(wo_.data(), d_.Eo, s.rows, d_.Eo, packed_out_.data(), 0, d_.Eo);
  if ((n == WQ || n == WK || n == WV) && !packed_in_.empty()) {
    const int64_t c0 = s.data - w_in_.data();  // packed: the slot's first column in [E, nt]
    repack(w_in_.data(), s.ld, d_.E, s.ld, packed_in_.data(), c0, c0 + s.cols);
  }
}

void MhaWeights::read(Name n, float* dst) const {
  const Slot s = slot(n);
  if (!s.data) return;
  for (int64_t r = 0; r < s.rows; ++r) std::memcpy(dst + r * s.cols, s.data + r * s.ld, sizeof(float) * s.cols);
}

int64_t mha_macs(const MhaDims& d, int64_t B, int64_t Lq, int64_t Lk) {
  const double macs =
      double(B) * (double(Lq) * d.E * d.H * d.Dk + double(Lk) * (d.Ek * d.H * d.Dk + d.Ev * d.H * d.Dv) +
                   double(Lq) * Lk * d.H * (d.Dk + d.Dv) + double(Lq) * d.H * d.Dv * d.Eo);
  return saturating_macs(macs);
}

int64_t mha_cached_macs(const MhaDims& d, const CachedInputs& in) {
  double pairs = 0;  // (new token, key) pairs of the attention
  for (int64_t s = 0; s < in.segments; ++s) pairs += double(in.lengths[s]) * double(in.past[s] + in.lengths[s]);
  const double projections =
      double(in.rows) * (double(d.E) * d.H * d.Dk + double(d.E) * d.Hkv * (d.Dk + d.Dv) + double(d.H) * d.Dv * d.Eo);
  return saturating_macs(projections + pairs * d.H * (d.Dk + d.Dv));
}

namespace {

// Where one projection's output columns go: a group of `heads` heads of size D starting
// at column `col` of the GEMM output; when projecting head-major, stored at `data` as
// [B, heads, L, D].
struct HeadGroup {
  int64_t heads, D, col;
  float* data;
};

// One input projection: Y[B·L, N] = X[B·L, din] · W[:, N columns] + b, N = the groups' widths.
struct Projection {
  const float* x;
  int64_t din;
  MhaWeights::Slot w;
  const float* bias;
  int64_t L, N;
  HeadGroup groups[3];
  int n_groups;
};

// Rows per task when projecting head-major. OpenBLAS repacks the weight on every call, so
// each chunk must be tall enough to amortise that: 128-row chunks made S5's 2048×4096
// projection 12% slower than 512-row ones; 1024 rows gained little more for twice the
// scratch (threads × chunk × N floats).
constexpr int64_t kProjectChunk = 512;

// What one forward call does, decided from the weights and the inputs before any memory
// is touched: which projection GEMMs run, and whether heads are read in place or copied
// head-major.
struct MhaPlan {
  AttentionShape shape;
  Projection jobs[3];  // their groups, in order, are Q, K, V
  int n_jobs = 0;
  bool head_major = false;
  bool self_attention = false;                // one projection, against all of [wq | wk | wv]
  const int32_t* sequence_lengths = nullptr;  // packed sequences, or null
  int64_t sequences = 0;
  int64_t kv_heads = 0;  // key/value heads (shape.H / kv_heads query heads share each)
  // Self-attention of a padded batch through the fused kernel: keys and values are
  // projected for batch b's first key_lengths[b] rows only (project_qkv_padded), key_rows in
  // all. Null when every row is real or another path runs.
  const int32_t* key_lengths = nullptr;
  int64_t key_rows = 0;

  // The shape attention runs on: the whole call, or one packed sequence of `length` rows.
  AttentionShape sequence_shape(int64_t length) const { return {1, shape.H, length, length, shape.Dk, shape.Dv}; }

  // attention_heads' scratch: for packed sequences, enough for the longest.
  int64_t scratch_floats(int threads, bool weights) const {
    if (!sequence_lengths) return attention_scratch_floats(shape, threads, weights);
    int64_t most = 0;
    for (int64_t i = 0; i < sequences; ++i)
      most = std::max(most, attention_scratch_floats(sequence_shape(sequence_lengths[i]), threads, weights));
    return most;
  }
};

MhaPlan plan_forward(const MhaWeights& w, const MhaInputs& in, bool weights) {
  const MhaDims& d = w.dims();
  const int64_t hq = d.H * d.Dk, hk = d.Hkv * d.Dk, hv = d.Hkv * d.Dv;
  MhaPlan p;
  p.shape = {in.B, d.H, in.Lq, in.Lk, d.Dk, d.Dv};
  p.kv_heads = d.Hkv;
  p.sequence_lengths = in.sequence_lengths;
  p.sequences = in.sequences;
  // Long sequences, when the attention probabilities are asked for: project in row chunks
  // and scatter each chunk's heads into head-major buffers, so that the OpenBLAS Q·Kᵀ and
  // P·V of that path read each head's keys and values as one contiguous block (read in
  // place as column slices 12 KiB apart per row, they were measured 12-15% slower on S3).
  // The fused kernel packs each head's keys itself and streams values row by row: for it
  // the copy no longer pays (S3 without it: 1.006x the time at 1 thread, 0.96x at 2, and
  // 8.6 MB less peak memory; bench/NOTES.md).
  p.head_major = weights && in.Lk >= 512;

  // Which inputs are the same tensor decides how many projection GEMMs there are: one
  // against [wq | wk | wv] for self-attention, one against [wk | wv] when key and value
  // are one memory tensor (cross-attention), else one each.
  const bool self = w.packed() && in.query == in.key && in.key == in.value && in.Lq == in.Lk;
  p.self_attention = self;
  const bool shared_kv = w.packed() && !self && in.key == in.value;
  const auto wq = w.slot(MhaWeights::WQ), wk = w.slot(MhaWeights::WK), wv = w.slot(MhaWeights::WV);
  const float *bq = w.slot(MhaWeights::BQ).data, *bk = w.slot(MhaWeights::BK).data, *bv = w.slot(MhaWeights::BV).data;
  const HeadGroup q{d.H, d.Dk, 0, nullptr};
  if (self) {
    p.jobs[p.n_jobs++] = {
        in.query, d.E, wq, bq, in.Lq, hq + hk + hv, {q, {d.Hkv, d.Dk, hq, nullptr}, {d.Hkv, d.Dv, hq + hk, nullptr}},
        3};
    return p;
  }
  p.jobs[p.n_jobs++] = {in.query, d.E, wq, bq, in.Lq, hq, {q}, 1};
  if (shared_kv) {
    p.jobs[p.n_jobs++] = {in.key, d.Ek, wk, bk, in.Lk, hk + hv, {{d.Hkv, d.Dk, 0, nullptr}, {d.Hkv, d.Dv, hk, nullptr}},
                          2};
  } else {
    p.jobs[p.n_jobs++] = {in.key, d.Ek, wk, bk, in.Lk, hk, {{d.Hkv, d.Dk, 0, nullptr}}, 1};
    p.jobs[p.n_jobs++] = {in.value, d.Ev, wv, bv, in.Lk, hv, {{d.Hkv, d.Dv, 0, nullptr}}, 1};
  }
  return p;
}

// The workspace's pieces.
struct MhaBuffers {
  float* projected[3];  // each job's output: [B·L, N], or its groups head-major
  float* merged;        // the attention output with heads merged: [B·Lq, H·Dv]
  float* scratch;       // attention_heads' scratch
  float* chunks;        // head-major only: one [kProjectChunk, N] GEMM output per thread
  float* gathered;      // padded self-attention only: the real rows of the input [key_rows, E]
};

// Describes every piece; run once to measure and once to carve (see Carver).
MhaBuffers carve(const MhaPlan& p, int threads, bool weights, Carver& c) {
  const AttentionShape& s = p.shape;
  MhaBuffers b{};
  int64_t widest = 0;
  for (int j = 0; j < p.n_jobs; ++j) {
    b.projected[j] = c.take(checked_product({s.B, p.jobs[j].L, p.jobs[j].N}));
    widest = std::max(widest, p.jobs[j].N);
  }
  b.merged = c.take(checked_product({s.B, s.Lq, s.H, s.Dv}));
  b.scratch = c.take(p.scratch_floats(threads, weights));
  if (p.head_major) b.chunks = c.take(checked_product({threads, kProjectChunk, widest}));
  if (p.key_lengths) b.gathered = c.take(checked_product({p.key_rows, p.jobs[0].din}));
  return b;
}

// Projects in row chunks and scatters each chunk's heads into the groups' head-major
// buffers ([B, H, L, D]).
void project_head_major(const Lease& lease, const Projection& p, int64_t B, float* chunks) {
  const int64_t rows = B * p.L;
  const int64_t n_chunks = (rows + kProjectChunk - 1) / kProjectChunk;
  lease.parallel_for(n_chunks, [&](int64_t c, int tid) {
    const int64_t r0 = c * kProjectChunk, n = std::min(kProjectChunk, rows - r0);
    float* y = chunks + int64_t(tid) * kProjectChunk * p.N;  // [n, N] scratch of this thread
    gemm_bias(ComputePool::inline_lease(), int(n), int(p.N), int(p.din), p.x + r0 * p.din, int(p.din), p.w.data,
              int(p.w.ld), p.bias, y, int(p.N));
    for (int64_t r = 0; r < n; ++r) {
      const int64_t b = (r0 + r) / p.L, l = (r0 + r) % p.L;
      for (int g = 0; g < p.n_groups; ++g) {
        const HeadGroup& hg = p.groups[g];
        for (int64_t h = 0; h < hg.heads; ++h)
          std::memcpy(hg.data + ((b * hg.heads + h) * p.L + l) * hg.D, y + r * p.N + hg.col + h * hg.D,
                      sizeof(float) * hg.D);
      }
    }
  });
}

// Columns [c0, c1) of y [rows, H·Dk + Hkv·(Dk + Dv)] = x [rows, E] · [wq | wk | wv] +
// [bq | bk | bv] (a packed layer: self-attention, or the new tokens of a cached call), on the
// packed copy when the layer keeps one and c0 (and c1, unless the last column) fall on its
// panels' edges; else OpenBLAS.
void project_qkv(const Lease& lease, const MhaWeights& w, int64_t rows, const float* x, float* y, int64_t c0 = 0,
                 int64_t c1 = -1) {
  const MhaDims& d = w.dims();
  const auto wqkv = w.slot(MhaWeights::WQ);
  const float* bias = w.slot(MhaWeights::BQ).data;
  const int64_t N = wqkv.ld;  // all three, side by side
  if (c1 < 0) c1 = N;
  const int64_t pw = kernels().flash.panel_width;
  const bool on_panels = c0 % pw == 0 && (c1 % pw == 0 || c1 == N);
  if (w.packed_in() && on_panels &&
      gemm_packed(lease, rows, N, d.E, x, w.packed_in(), bias, y, N, c0 / pw, (c1 + pw - 1) / pw))
    return;
  gemm_bias(lease, int(rows), int(c1 - c0), int(d.E), x, int(d.E), wqkv.data + c0, int(N), bias ? bias + c0 : nullptr,
            y + c0, int(N));
}

// Self-attention of a padded batch (key lengths): the queries of every row, the keys and
// values of the real rows only (batch b's first key_lengths[b]); the padded rows' keys and
// values, which the fused kernel never reads, are zeros. The real rows are gathered into
// `gathered` [key_rows = Σ lengths, E] so that keys and values are one GEMM (OpenBLAS repacks the
// weight on every call: one call per sequence cost what the skipped rows saved); its rows
// land compacted at the top of y and move down to their places. M1 (16 × 256 rows, lengths
// 64-256): 0.84-0.87× the time on AVX2, 0.93-0.95× on AMX at one thread (bench/NOTES.md).
void project_qkv_padded(const Lease& lease, const MhaWeights& w, int64_t B, int64_t L, const int32_t* key_lengths,
                        int64_t key_rows, const float* x, float* gathered, float* y) {
  const MhaDims& d = w.dims();
  const int64_t E = d.E, hq = d.H * d.Dk, N = w.slot(MhaWeights::WQ).ld, kv = N - hq;
  const auto length = [&](int64_t b) { return std::clamp<int64_t>(key_lengths[b], 0, L); };
  project_qkv(lease, w, B * L, x, y, 0, hq);
  // The gather, in as many slices of batches as there are threads (each finds its first row
  // by summing the lengths before it).
  const int64_t slices = std::min<int64_t>(B, lease.threads());
  lease.parallel_for(slices, [&](int64_t s, int) {
    const int64_t b0 = B * s / slices, b1 = B * (s + 1) / slices;
    int64_t row = 0;
    for (int64_t b = 0; b < b0; ++b) row += length(b);
    for (int64_t b = b0; b < b1; row += length(b), ++b)
      std::memcpy(gathered + row * E, x + b * L * E, sizeof(float) * size_t(length(b) * E));
  });
  if (key_rows > 0) project_qkv(lease, w, key_rows, gathered, y, hq, N);
  // Batch b's rows go from rows [r, r + len) to [b·L, b·L + len): never upwards, so moving
  // the last batch first, each from its last row up, reads every row before it is overwritten.
  int64_t rows = key_rows;
  for (int64_t b = B - 1; b >= 0; --b) {
    const int64_t len = length(b);
    rows -= len;
    for (int64_t i = len - 1; i >= 0 && rows != b * L; --i)
      std::memmove(y + (b * L + i) * N + hq, y + (rows + i) * N + hq, sizeof(float) * size_t(kv));
    for (int64_t i = len; i < L; ++i) std::memset(y + (b * L + i) * N + hq, 0, sizeof(float) * size_t(kv));
  }
}

// Runs the plan's projections; heads[0..2] (Q, K, V) then address them either
// head-major or as column slices of each projection's [B·L, N] output, read in place.
void project_all(const Lease& lease, const MhaWeights& w, MhaPlan& p, const MhaBuffers& buf, HeadsIn heads[3]) {
  const int64_t B = p.shape.B;
  int next = 0;
  for (int j = 0; j < p.n_jobs; ++j) {
    Projection& job = p.jobs[j];
    const int64_t rows = B * job.L;
    if (p.head_major) {
      float* dst = buf.projected[j];
      for (int g = 0; g < job.n_groups; ++g) {
        job.groups[g].data = dst;
        dst += rows * job.groups[g].heads * job.groups[g].D;
      }
      project_head_major(lease, job, B, buf.chunks);
      for (int g = 0; g < job.n_groups; ++g) {
        const int64_t D = job.groups[g].D;
        heads[next++] = {job.groups[g].data, job.groups[g].heads * job.L * D, job.L * D, D};
      }
    } else {
      if (p.self_attention && p.key_lengths) {
        project_qkv_padded(lease, w, B, job.L, p.key_lengths, p.key_rows, job.x, buf.gathered, buf.projected[j]);
      } else if (p.self_attention) {
        project_qkv(lease, w, rows, job.x, buf.projected[j]);
      } else {
        gemm_bias(lease, int(rows), int(job.N), int(job.din), job.x, int(job.din), job.w.data, int(job.w.ld), job.bias,
                  buf.projected[j], int(job.N));
      }
      for (int g = 0; g < job.n_groups; ++g)
        heads[next++] = {buf.projected[j] + job.groups[g].col, job.L * job.N, job.groups[g].D, job.N};
    }
  }
}

// Rotates rows [0, L) of `heads` heads of `h` (of B batch entries) at positions first, first + 1, …
void rotate(const Lease& lease, const Rotary& rot, const HeadsIn& h, int64_t B, int64_t L, int64_t heads,
            int64_t first) {
  rotary_apply(lease, rot, {const_cast<float*>(h.data), B, L, heads, h.batch_stride, h.row_stride, h.head_stride},
               first);
}

// Attention over all heads. With grouped-query heads (kv_heads < H), each group of
// H / kv_heads query heads shares one key/value head: it runs as its own call in which the
// keys' and values' head stride is 0, so every query head of the group reads the same
// rows. Nothing is expanded in memory.
void attend(const Lease& lease, const AttentionShape& s, int64_t kv_heads, const HeadsIn heads[3], const HeadsOut& o,
            const AttentionParams& params, float* scratch) {
  if (kv_heads == s.H) {
    attention_heads(lease, s, heads[0], heads[1], heads[2], o, params, scratch);
    return;
  }
  const int64_t G = s.H / kv_heads;
  AttentionShape group = s;
  group.H = G;
  for (int64_t g = 0; g < kv_heads; ++g) {
    HeadsIn q = heads[0], k = heads[1], v = heads[2];
    q.data += g * G * q.head_stride;
    k.data += g * k.head_stride;
    v.data += g * v.head_stride;
    k.head_stride = v.head_stride = 0;
    HeadsOut og = o;
    og.data += g * G * og.head_stride;
    AttentionParams p = params;
    if (p.mask.kind != MaskKind::None) p.mask.data = p.mask.at(g * G * p.mask.head_stride);
    attention_heads(lease, group, q, k, v, og, p, scratch);
  }
}

// out [rows, Eo] = merged [rows, H·Dv] · wo + bo.
void output_projection(const Lease& lease, const MhaWeights& w, int64_t rows, const float* merged, float* out) {
  const MhaDims& d = w.dims();
  const int64_t hv = d.H * d.Dv;
  const auto wo = w.slot(MhaWeights::WO);
  const float* bo = w.slot(MhaWeights::BO).data;
  if (!w.packed_out() || !gemm_packed(lease, rows, d.Eo, hv, merged, w.packed_out(), bo, out, d.Eo)) {
    gemm_bias(lease, int(rows), int(d.Eo), int(hv), merged, int(hv), wo.data, int(wo.ld), bo, out, int(d.Eo));
  }
}

}  // namespace

Status mha_forward(const Lease& lease, const MhaWeights& w, const MhaInputs& in, const AttentionParams& params,
                   float* out) {
  const MhaDims& d = w.dims();
  const Rotary& rot = w.rotary();
  const int64_t rows_q = checked_product({in.B, in.Lq}), rows_k = checked_product({in.B, in.Lk});
  if (in.B < 1 || in.Lq < 1 || in.Lk < 1 || rows_q < 0 || rows_k < 0) return Status::InvalidArgument;
  if (d.Hkv != d.H && params.weights) return Status::InvalidArgument;  // probabilities: plain MHA only
  if (in.sequence_lengths) {
    // One packed row of sequences that tile it exactly; no per-row key lengths or weights.
    if (in.B != 1 || in.Lq != in.Lk || in.sequences < 1 || params.key_lengths || params.weights)
      return Status::InvalidArgument;
    int64_t total = 0;
    for (int64_t i = 0; i < in.sequences; ++i) {
      if (in.sequence_lengths[i] < 1) return Status::InvalidArgument;
      total += in.sequence_lengths[i];
    }
    if (total != in.Lq) return Status::InvalidArgument;
  }
  if (rows_q > kBlasIntMax || rows_k > kBlasIntMax) return Status::TooLarge;

  const bool weights = params.weights != nullptr;
  MhaPlan plan = plan_forward(w, in, weights);
  // Padded self-attention: keys and values of the real rows only. (The exact-probabilities
  // path reads every key: its masked scores become 0, but 0 · a padded row's value must stay
  // finite, so it projects them all.)
  if (plan.self_attention && params.key_lengths && !weights && !plan.head_major && !plan.sequence_lengths) {
    for (int64_t b = 0; b < in.B; ++b) plan.key_rows += std::clamp<int64_t>(params.key_lengths[b], 0, in.Lk);
    if (plan.key_rows < rows_k) plan.key_lengths = params.key_lengths;
  }
  Carver measure;
  carve(plan, lease.threads(), weights, measure);
  if (!measure.ok()) return Status::TooLarge;
  Workspace ws = WorkspacePool::instance().acquire(measure.used());
  if (!ws.ok()) return Status::OutOfMemory;
  Carver cut(ws.data(), ws.capacity());
  const MhaBuffers buf = carve(plan, lease.threads(), weights, cut);
  if (!cut.ok()) return Status::OutOfMemory;

  HeadsIn heads[3];
  project_all(lease, w, plan, buf, heads);
  // Heads write straight into their columns of the merged [B·Lq, H·Dv] matrix.
  const int64_t hv = d.H * d.Dv;
  const HeadsOut merged{buf.merged, in.Lq * hv, d.Dv, hv};
  if (!plan.sequence_lengths) {
    // Rotary positions: keys 0, 1, …; queries aligned with the last keys, as causal is.
    rotate(lease, rot, heads[0], in.B, in.Lq, d.H, in.Lk - in.Lq);
    rotate(lease, rot, heads[1], in.B, in.Lk, d.Hkv, 0);
    attend(lease, plan.shape, plan.kv_heads, heads, merged, params, buf.scratch);
  } else {
    // Packed sequences: each is its own attention over rows [start, start + length) of
    // every head, reached by offsetting the row pointers; nothing else moves.
    int64_t start = 0;
    for (int64_t i = 0; i < plan.sequences; ++i) {
      const int64_t length = plan.sequence_lengths[i];
      const auto at = [start](HeadsIn h) {
        h.data += start * h.row_stride;
        return h;
      };
      HeadsOut o = merged;
      o.data += start * o.row_stride;
      AttentionParams p = params;  // a mask over [1, H, T, T] is read at this diagonal block
      if (p.mask.kind != MaskKind::None) p.mask.data = p.mask.at(start * (p.mask.query_stride + p.mask.key_stride));
      const HeadsIn rows[3] = {at(heads[0]), at(heads[1]), at(heads[2])};
      rotate(lease, rot, rows[0], 1, length, d.H, 0);  // positions restart with each sequence
      rotate(lease, rot, rows[1], 1, length, d.Hkv, 0);
      attend(lease, plan.sequence_shape(length), plan.kv_heads, rows, o, p, buf.scratch);
      start += length;
    }
  }

  output_projection(lease, w, rows_q, buf.merged, out);
  return Status::Ok;
}

Status mha_forward_cached(const Lease& lease, const MhaWeights& w, const KvCache& cache, const CachedInputs& in,
                          const AttentionParams& params, float* out) {
  const MhaDims& d = w.dims();
  if (!w.packed() || cache.heads() != d.Hkv || cache.key_dim() != d.Dk || cache.value_dim() != d.Dv)
    return Status::InvalidArgument;
  if (in.rows < 1 || in.segments < 1 || params.mask.kind != MaskKind::None || params.key_lengths || params.weights)
    return Status::InvalidArgument;
  if (in.rows > kBlasIntMax) return Status::TooLarge;
  // Segments of a few new tokens (decoding steps) attend through the decode kernel, all in
  // one call; the others (prefills) one by one through the fused kernel.
  int64_t total = 0, short_segments = 0, longest_prefill = 0;
  for (int64_t s = 0; s < in.segments; ++s) {
    const int64_t n = in.lengths[s], past = in.past[s], row = in.cache_rows[s];
    if (n < 1 || past < 0 || row < 0 || row >= cache.batch() || past + n > cache.max_length())
      return Status::InvalidArgument;
    total += n;
    if (n <= kDecodeMaxTokens) {
      ++short_segments;
    } else {
      longest_prefill = std::max(longest_prefill, past + n);
    }
  }
  if (total != in.rows) return Status::InvalidArgument;

  const int64_t hq = d.H * d.Dk, hk = d.Hkv * d.Dk, hv = d.H * d.Dv, N = hq + hk + d.Hkv * d.Dv;
  const int64_t L = cache.max_length();
  DecodeCall decode;
  decode.H = d.H;
  decode.Hkv = d.Hkv;
  decode.Dk = d.Dk;
  decode.Dv = d.Dv;
  decode.sequences = in.segments;
  decode.tokens = in.lengths;
  decode.past = in.past;
  decode.kv = in.cache_rows;
  decode.ldq = N;
  decode.ldo = hv;
  decode.k_row = L * d.Hkv * d.Dk;  // the cache: [batch, Hkv, L, D]
  decode.k_head = L * d.Dk;
  decode.ldk = d.Dk;
  decode.v_row = L * d.Hkv * d.Dv;
  decode.v_head = L * d.Dv;
  decode.ldv = d.Dv;
  decode.scale = params.scale;
  decode.window = params.window;
  const AttentionShape widest{1, d.H, in.rows, std::max<int64_t>(longest_prefill, 1), d.Dk, d.Dv};
  Carver measure;
  // The workspace's pieces, described once for measuring and for carving (see Carver).
  struct Pieces {
    float* proj;       // [rows, N]: the new tokens' queries, keys and values
    float* merged;     // [rows, H·Dv]: attention output, heads merged
    float* scratch;    // the fused kernel's, for the prefill segments
    int64_t* starts;   // [segments] first row of each segment
    float* decode_ws;  // the decode kernel's, for the short segments
  };
  const auto pieces = [&](Carver& c) {
    Pieces p;
    p.proj = c.take(checked_product({in.rows, N}));
    p.merged = c.take(checked_product({in.rows, hv}));
    p.scratch = c.take(longest_prefill ? attention_scratch_floats(widest, lease.threads(), false) : 0);
    p.starts = reinterpret_cast<int64_t*>(c.take(checked_product({in.segments, 2})));
    p.decode_ws = c.take(short_segments ? decode_workspace_floats(decode, lease.threads()) : 0);
    return p;
  };
  pieces(measure);
  if (!measure.ok()) return Status::TooLarge;
  Workspace ws = WorkspacePool::instance().acquire(measure.used());
  if (!ws.ok()) return Status::OutOfMemory;
  Carver cut(ws.data(), ws.capacity());
  const Pieces buf = pieces(cut);
  if (!cut.ok()) return Status::OutOfMemory;
  float* const proj = buf.proj;
  float* const merged = buf.merged;
  float* const scratch = buf.scratch;
  int64_t* const starts = buf.starts;

  // One GEMM projects the new tokens' queries, keys and values: [rows, H·Dk | Hkv·Dk | Hkv·Dv].
  project_qkv(lease, w, in.rows, in.x, proj);

  // Rotate the new queries and keys at their positions and append keys and values to the
  // cache. Many short segments (decode steps) go in parallel over segments; a few long
  // ones (prefills) in parallel over their rows.
  const Rotary& rot = w.rotary();
  const auto place = [&](int64_t s, int64_t start, const Lease& inner) {
    const int64_t n = in.lengths[s], past = in.past[s], row = in.cache_rows[s];
    float* rows = proj + start * N;
    rotate(inner, rot, {rows, 0, d.Dk, N}, 1, n, d.H, past);
    rotate(inner, rot, {rows + hq, 0, d.Dk, N}, 1, n, d.Hkv, past);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t g = 0; g < d.Hkv; ++g) {
        std::memcpy(cache.key(row, g, past + t), rows + t * N + hq + g * d.Dk, sizeof(float) * size_t(d.Dk));
        std::memcpy(cache.value(row, g, past + t), rows + t * N + hq + hk + g * d.Dv, sizeof(float) * size_t(d.Dv));
      }
  };
  const auto for_segments = [&](auto&& f) {
    for (int64_t s = 0, start = 0; s < in.segments; start += in.lengths[s], ++s) f(s, start);
  };
  for_segments([&](int64_t s, int64_t start) { starts[s] = start; });
  if (in.segments >= lease.threads()) {
    lease.parallel_for(in.segments, [&](int64_t s, int) { place(s, starts[s], ComputePool::inline_lease()); });
  } else {
    for_segments([&](int64_t s, int64_t start) { place(s, start, lease); });
  }

  // Each segment's new queries attend to its cache row, causally: query t of a segment with
  // `past` cached tokens sees keys up to past + t (bottom-right alignment).
  if (short_segments > 0) {
    decode.rows = starts;
    decode.q = proj;
    decode.o = merged;
    decode.k = cache.key(0, 0, 0);
    decode.v = cache.value(0, 0, 0);
    decode_attention(lease, decode, buf.decode_ws);
  }
  AttentionParams p = params;
  p.causal = true;
  const HeadsOut merged_heads{merged, 0, d.Dv, hv};
  for_segments([&](int64_t s, int64_t start) {
    if (in.lengths[s] <= kDecodeMaxTokens) return;
    const int64_t n = in.lengths[s], row = in.cache_rows[s];
    const AttentionShape shape{1, d.H, n, in.past[s] + n, d.Dk, d.Dv};
    const HeadsIn heads[3] = {{proj + start * N, 0, d.Dk, N},
                              {cache.key(row, 0, 0), 0, cache.max_length() * d.Dk, d.Dk},
                              {cache.value(row, 0, 0), 0, cache.max_length() * d.Dv, d.Dv}};
    HeadsOut o = merged_heads;
    o.data += start * hv;
    attend(lease, shape, d.Hkv, heads, o, p, scratch);
  });

  output_projection(lease, w, in.rows, merged, out);
  return Status::Ok;
}

}  // namespace na
