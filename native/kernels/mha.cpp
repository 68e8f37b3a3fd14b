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

Status mha_forward(const Lease& lease, const MhaWeights& w, const MhaInputs& in, const AttentionParams& params,
                   float* out) {
  const MhaDims& d = w.dims();
  const int64_t B = in.B, Lq = in.Lq, Lk = in.Lk;
  const int64_t hk = d.H * d.Dk, hv = d.H * d.Dv;
  const int64_t rows_q = checked_product({B, Lq}), rows_k = checked_product({B, Lk});
  if (B < 0 || Lq < 0 || Lk < 0 || rows_q < 0 || rows_k < 0) return Status::InvalidArgument;
  if (rows_q > kBlasIntMax || rows_k > kBlasIntMax) return Status::TooLarge;

  // Which inputs are the same tensor decides how many projection GEMMs there are.
  const bool self = w.packed() && in.query == in.key && in.key == in.value && Lq == Lk;
  const bool shared_kv = w.packed() && !self && in.key == in.value;
  const int64_t ld_kv = shared_kv ? hk + hv : 0;

  // Workspace: projected Q, K, V (or QKV / KV side by side), the merged heads, scores.
  const int64_t nt = 2 * hk + hv;
  const int64_t f_q = self ? checked_product({rows_q, nt}) : checked_product({rows_q, hk});
  const int64_t f_k = self ? 0 : shared_kv ? checked_product({rows_k, ld_kv}) : checked_product({rows_k, hk});
  const int64_t f_v = (self || shared_kv) ? 0 : checked_product({rows_k, hv});
  const int64_t f_a = checked_product({rows_q, hv});
  const AttentionShape shape{B, d.H, Lq, Lk, d.Dk, d.Dv};
  const int64_t f_s = attention_scratch_floats(shape, lease.threads(), params.weights != nullptr);
  if (f_q < 0 || f_k < 0 || f_v < 0 || f_a < 0 || f_s < 0) return Status::TooLarge;
  const int64_t total = int64_t(Carver::round_up(f_q) + Carver::round_up(f_k) + Carver::round_up(f_v) +
                                Carver::round_up(f_a) + Carver::round_up(f_s));
  Workspace ws = WorkspacePool::instance().acquire(size_t(total));
  if (!ws.ok()) return Status::OutOfMemory;
  Carver carve(ws.data());
  float* pq = carve.take(f_q);
  float* pk = carve.take(f_k);
  float* pv = carve.take(f_v);
  float* pa = carve.take(f_a);
  float* scratch = carve.take(f_s);

  const auto wq = w.slot(MhaWeights::WQ), wk = w.slot(MhaWeights::WK), wv = w.slot(MhaWeights::WV);
  const float *bq = w.slot(MhaWeights::BQ).data, *bk = w.slot(MhaWeights::BK).data, *bv = w.slot(MhaWeights::BV).data;
  HeadsIn q, k, v;
  if (self) {
    // QKV[B·L, Nt] = X · [wq | wk | wv] + [bq | bk | bv]; heads are column slices, ld = Nt.
    gemm_bias(lease, int(rows_q), int(nt), int(d.E), in.query, int(d.E), wq.data, int(wq.ld), bq, pq, int(nt));
    q = {pq, Lq * nt, d.Dk, nt};
    k = {pq + hk, Lk * nt, d.Dk, nt};
    v = {pq + 2 * hk, Lk * nt, d.Dv, nt};
  } else {
    gemm_bias(lease, int(rows_q), int(hk), int(d.E), in.query, int(d.E), wq.data, int(wq.ld), bq, pq, int(hk));
    q = {pq, Lq * hk, d.Dk, hk};
    if (shared_kv) {
      // KV[B·Lk, H·(Dk+Dv)] = M · [wk | wv] + [bk | bv]: one GEMM for both.
      gemm_bias(lease, int(rows_k), int(ld_kv), int(d.kdim), in.key, int(d.kdim), wk.data, int(wk.ld), bk, pk,
                int(ld_kv));
      k = {pk, Lk * ld_kv, d.Dk, ld_kv};
      v = {pk + hk, Lk * ld_kv, d.Dv, ld_kv};
    } else {
      gemm_bias(lease, int(rows_k), int(hk), int(d.kdim), in.key, int(d.kdim), wk.data, int(wk.ld), bk, pk, int(hk));
      gemm_bias(lease, int(rows_k), int(hv), int(d.vdim), in.value, int(d.vdim), wv.data, int(wv.ld), bv, pv, int(hv));
      k = {pk, Lk * hk, d.Dk, hk};
      v = {pv, Lk * hv, d.Dv, hv};
    }
  }
  // Heads write straight into their columns of the merged [B·Lq, H·Dv] matrix.
  const HeadsOut a{pa, Lq * hv, d.Dv, hv};
  attention_heads(lease, shape, q, k, v, a, params, scratch);

  const auto wo = w.slot(MhaWeights::WO);
  gemm_bias(lease, int(rows_q), int(d.O), int(hv), pa, int(hv), wo.data, int(wo.ld), w.slot(MhaWeights::BO).data,
            out, int(d.O));
  return Status::Ok;
}

}  // namespace na
