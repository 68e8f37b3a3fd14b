#include "mha.h"

#include <algorithm>
#include <cstring>

#include "gemm.h"
#include "workspace.h"

namespace na {

Status mha_check_dims(const MhaDims& d) {
  for (int64_t x : {d.E, d.H, d.Dk, d.Dv, d.kdim, d.vdim, d.O})
    if (x < 1) return Status::InvalidArgument;
  const int64_t nt = checked_product({d.H, 2 * d.Dk + d.Dv});
  if (nt < 0 || nt > kBlasIntMax || d.O > kBlasIntMax || d.E > kBlasIntMax || d.kdim > kBlasIntMax ||
      d.vdim > kBlasIntMax)
    return Status::TooLarge;
  for (int64_t rows : {d.E, d.kdim, d.vdim, d.H * d.Dv}) {
    const int64_t n = checked_product({rows, std::max(nt, d.O)});
    if (n < 0 || n > (int64_t(1) << 40)) return Status::TooLarge;
  }
  return Status::Ok;
}

MhaWeights::MhaWeights(const MhaDims& d) : d_(d), packed_(d.E == d.kdim && d.E == d.vdim) {
  const int64_t hk = d.H * d.Dk, hv = d.H * d.Dv;
  w_in_.assign(size_t(d.E * hk + d.kdim * hk + d.vdim * hv), 0.0f);
  if (d.bias) {
    b_in_.assign(size_t(2 * hk + hv), 0.0f);
    bo_.assign(size_t(d.O), 0.0f);
  }
  wo_.assign(size_t(hv * d.O), 0.0f);
}

MhaWeights::Slot MhaWeights::slot(Name n) const {
  const int64_t hk = d_.H * d_.Dk, hv = d_.H * d_.Dv, nt = 2 * hk + hv;
  float* w = const_cast<float*>(w_in_.data());
  float* b = d_.bias ? const_cast<float*>(b_in_.data()) : nullptr;
  switch (n) {
    case WQ: return {w, d_.E, hk, packed_ ? nt : hk};
    case WK: return packed_ ? Slot{w + hk, d_.kdim, hk, nt} : Slot{w + d_.E * hk, d_.kdim, hk, hk};
    case WV: return packed_ ? Slot{w + 2 * hk, d_.vdim, hv, nt} : Slot{w + d_.E * hk + d_.kdim * hk, d_.vdim, hv, hv};
    case BQ: return {b, 1, hk, hk};
    case BK: return {b ? b + hk : nullptr, 1, hk, hk};
    case BV: return {b ? b + 2 * hk : nullptr, 1, hv, hv};
    case WO: return {const_cast<float*>(wo_.data()), hv, d_.O, d_.O};
    case BO: return {d_.bias ? const_cast<float*>(bo_.data()) : nullptr, 1, d_.O, d_.O};
    default: return {nullptr, 0, 0, 0};
  }
}

void MhaWeights::write(Name n, const float* src) {
  const Slot s = slot(n);
  if (!s.data) return;
  for (int64_t r = 0; r < s.rows; ++r) std::memcpy(s.data + r * s.ld, src + r * s.cols, sizeof(float) * s.cols);
}

void MhaWeights::read(Name n, float* dst) const {
  const Slot s = slot(n);
  if (!s.data) return;
  for (int64_t r = 0; r < s.rows; ++r) std::memcpy(dst + r * s.cols, s.data + r * s.ld, sizeof(float) * s.cols);
}

int64_t mha_macs(const MhaDims& d, int64_t B, int64_t Lq, int64_t Lk) {
  const double macs = double(B) * (double(Lq) * d.E * d.H * d.Dk + double(Lk) * (d.kdim * d.H * d.Dk + d.vdim * d.H * d.Dv) +
                                   double(Lq) * Lk * d.H * (d.Dk + d.Dv) + double(Lq) * d.H * d.Dv * d.O);
  return macs > 9e18 ? int64_t(9e18) : int64_t(macs);
}

namespace {

// Where one projection's output columns go: a group of H heads of size D starting at
// column `col` of the GEMM output, stored head-major at `data` ([B, H, L, D]).
struct HeadGroup {
  float* data;
  int64_t D, col;
};

// One input projection: Y[rows, N] = X[rows, din] · W[:, cols] + b, N = the groups' widths.
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

// Long sequences: project in row chunks and scatter each chunk's heads into head-major
// buffers. Q·Kᵀ and P·V then read each head's keys and values as one contiguous block;
// read in place as column slices of a [L, H·D] matrix (12 KiB apart per row at E=1024)
// the same products were measured 12-15% slower (S3: 262 vs 232 ms of attention per
// thread), far more than the copy costs (about 1% of it).
void project_head_major(const Lease& lease, const Projection& p, int64_t B, int64_t H, float* temp) {
  const int64_t rows = B * p.L;
  const int64_t chunks = (rows + kProjectChunk - 1) / kProjectChunk;
  lease.parallel_for(chunks, [&](int64_t c, int tid) {
    const int64_t r0 = c * kProjectChunk, n = std::min(kProjectChunk, rows - r0);
    float* y = temp + int64_t(tid) * kProjectChunk * p.N;  // [n, N] scratch of this thread
    gemm_bias(ComputePool::inline_lease(), int(n), int(p.N), int(p.din), p.x + r0 * p.din, int(p.din), p.w.data,
              int(p.w.ld), p.bias, y, int(p.N));
    for (int64_t r = 0; r < n; ++r) {
      const int64_t b = (r0 + r) / p.L, l = (r0 + r) % p.L;
      for (int g = 0; g < p.n_groups; ++g) {
        const HeadGroup& hg = p.groups[g];
        for (int64_t h = 0; h < H; ++h)
          std::memcpy(hg.data + ((b * H + h) * p.L + l) * hg.D, y + r * p.N + hg.col + h * hg.D, sizeof(float) * hg.D);
      }
    }
  });
}

}  // namespace

Status mha_forward(const Lease& lease, const MhaWeights& w, const MhaInputs& in, const AttentionParams& params,
                   float* out) {
  const MhaDims& d = w.dims();
  const int64_t B = in.B, Lq = in.Lq, Lk = in.Lk, H = d.H;
  const int64_t hk = H * d.Dk, hv = H * d.Dv;
  const int64_t rows_q = checked_product({B, Lq}), rows_k = checked_product({B, Lk});
  if (B < 0 || Lq < 0 || Lk < 0 || rows_q < 0 || rows_k < 0) return Status::InvalidArgument;
  if (rows_q > kBlasIntMax || rows_k > kBlasIntMax) return Status::TooLarge;

  // Which inputs are the same tensor decides how many projection GEMMs there are: one
  // against [wq | wk | wv] for self-attention, one against [wk | wv] when key and value
  // are one memory tensor (cross-attention), else one each.
  const bool self = w.packed() && in.query == in.key && in.key == in.value && Lq == Lk;
  const bool shared_kv = w.packed() && !self && in.key == in.value;
  // Head-major buffers pay off once a head's keys no longer fit in cache (see above).
  const bool head_major = Lk >= 512;

  const auto wq = w.slot(MhaWeights::WQ), wk = w.slot(MhaWeights::WK), wv = w.slot(MhaWeights::WV);
  const float *bq = w.slot(MhaWeights::BQ).data, *bk = w.slot(MhaWeights::BK).data, *bv = w.slot(MhaWeights::BV).data;
  Projection jobs[3];
  int n_jobs = 0;
  // Groups' data pointers are filled in once the workspace is carved.
  if (self) {
    jobs[n_jobs++] = {in.query, d.E, wq, bq, Lq, 2 * hk + hv, {{nullptr, d.Dk, 0}, {nullptr, d.Dk, hk}, {nullptr, d.Dv, 2 * hk}}, 3};
  } else {
    jobs[n_jobs++] = {in.query, d.E, wq, bq, Lq, hk, {{nullptr, d.Dk, 0}}, 1};
    if (shared_kv) {
      jobs[n_jobs++] = {in.key, d.kdim, wk, bk, Lk, hk + hv, {{nullptr, d.Dk, 0}, {nullptr, d.Dv, hk}}, 2};
    } else {
      jobs[n_jobs++] = {in.key, d.kdim, wk, bk, Lk, hk, {{nullptr, d.Dk, 0}}, 1};
      jobs[n_jobs++] = {in.value, d.vdim, wv, bv, Lk, hv, {{nullptr, d.Dv, 0}}, 1};
    }
  }

  // Workspace: each projection's output, the merged heads [B·Lq, H·Dv], the scores, and
  // (head-major) one chunk of GEMM output per thread.
  const AttentionShape shape{B, H, Lq, Lk, d.Dk, d.Dv};
  int64_t f_proj[3] = {0, 0, 0}, f_temp = 0;
  for (int j = 0; j < n_jobs; ++j) {
    f_proj[j] = checked_product({B, jobs[j].L, jobs[j].N});
    if (head_major) f_temp = std::max(f_temp, checked_product({lease.threads(), kProjectChunk, jobs[j].N}));
  }
  const int64_t f_a = checked_product({rows_q, hv});
  const int64_t f_s = attention_scratch_floats(shape, lease.threads(), params.weights != nullptr);
  int64_t total = 0;
  for (int64_t f : {f_proj[0], f_proj[1], f_proj[2], f_a, f_s, f_temp}) {
    if (f < 0) return Status::TooLarge;
    total += int64_t(Carver::round_up(size_t(f)));
  }
  Workspace ws = WorkspacePool::instance().acquire(size_t(total));
  if (!ws.ok()) return Status::OutOfMemory;
  Carver carve(ws.data());

  // Run the projections; heads end up either head-major (contiguous per head) or as
  // column slices of each projection's [B·L, N] output (ld = N), read in place.
  HeadsIn heads[3];  // Q, K, V
  int next_head = 0;
  float* temp = nullptr;
  float* proj[3];
  for (int j = 0; j < n_jobs; ++j) proj[j] = carve.take(size_t(f_proj[j]));
  float* pa = carve.take(size_t(f_a));
  float* scratch = carve.take(size_t(f_s));
  if (head_major) temp = carve.take(size_t(f_temp));
  for (int j = 0; j < n_jobs; ++j) {
    Projection& p = jobs[j];
    const int64_t rows = B * p.L;
    if (head_major) {
      int64_t offset = 0;
      for (int g = 0; g < p.n_groups; ++g) {
        p.groups[g].data = proj[j] + offset;  // [B, H, L, D]
        offset += rows * H * p.groups[g].D;
      }
      project_head_major(lease, p, B, H, temp);
      for (int g = 0; g < p.n_groups; ++g)
        heads[next_head++] = {p.groups[g].data, H * p.L * p.groups[g].D, p.L * p.groups[g].D, p.groups[g].D};
    } else {
      gemm_bias(lease, int(rows), int(p.N), int(p.din), p.x, int(p.din), p.w.data, int(p.w.ld), p.bias, proj[j],
                int(p.N));
      for (int g = 0; g < p.n_groups; ++g)
        heads[next_head++] = {proj[j] + p.groups[g].col, p.L * p.N, p.groups[g].D, p.N};
    }
  }

  // Heads write straight into their columns of the merged [B·Lq, H·Dv] matrix.
  const HeadsOut a{pa, Lq * hv, d.Dv, hv};
  attention_heads(lease, shape, heads[0], heads[1], heads[2], a, params, scratch);

  const auto wo = w.slot(MhaWeights::WO);
  gemm_bias(lease, int(rows_q), int(d.O), int(hv), pa, int(hv), wo.data, int(wo.ld), w.slot(MhaWeights::BO).data,
            out, int(d.O));
  return Status::Ok;
}

}  // namespace na
