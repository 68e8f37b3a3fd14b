// Native tests of the fused attention kernel (attention_heads without weights) against a
// float64 reference, on the instruction set NATIVE_ATTENTION_ISA selects (ctest runs this
// once per path; a path the CPU lacks is reported and skipped). Odd sizes around the
// micro-tiles, Dk != Dv, every mask kind with broadcast strides, causal with Lq != Lk, key
// lengths including 0, fully masked rows (exactly 0), padding masks hiding whole key blocks, logits ×100 (the online
// rescale), merged-heads (strided) layouts with a poisoned output, NaN inputs, and 1 vs 2 threads bit for bit. Error
// metric per output row: max |err| / max |ref| (P·V may cancel, so a per-element relative error is ill-posed). Exit
// code 0 = pass.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "attention.h"
#include "check.h"
#include "cpu_features.h"
#include "fault_injection.h"
#include "workspace.h"

using namespace na;

struct Case {
  int64_t B, H, Lq, Lk, Dk, Dv;
  // 0 none, 1 bool [B,H,Lq,Lk], 2 bool [B,1,1,Lk], 3 additive [1,1,Lq,Lk], 4 additive [B,H,Lq,1]
  // (key stride 0), 5 bool [B,1,1,Lk] padding (keys past a per-batch length masked: whole
  // key blocks hidden), 6 the same as additive -inf / 0
  int mask;
  bool causal, key_lengths, merged;
  float logit_scale;  // multiplies Q: x100 stresses the online rescale
  const char* what;
};

static const float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Data {
  std::vector<float> q, k, v, addmask;
  std::vector<uint8_t> boolmask;
  std::vector<int32_t> lengths;
  HeadsIn hq, hk, hv;
  int64_t o_size;
  int64_t ob, oh, orow;  // output strides
  AttentionParams p;
};

static Data make(const Case& c, uint32_t seed) {
  Data d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  // Merged heads: [B, L, H·D] (row stride H·D); else head-major [B, H, L, D].
  auto layout = [&](int64_t L, int64_t D, std::vector<float>& buf, HeadsIn& h, float mul) {
    buf.resize(size_t(c.B * c.H * L * D));
    for (float& x : buf) x = u(rng) * mul;
    if (c.merged)
      h = {buf.data(), L * c.H * D, D, c.H * D};
    else
      h = {buf.data(), c.H * L * D, L * D, D};
  };
  layout(c.Lq, c.Dk, d.q, d.hq, c.logit_scale);
  layout(c.Lk, c.Dk, d.k, d.hk, 1.0f);
  layout(c.Lk, c.Dv, d.v, d.hv, 1.0f);
  d.o_size = c.B * c.H * c.Lq * c.Dv;
  if (c.merged) {
    d.ob = c.Lq * c.H * c.Dv;
    d.oh = c.Dv;
    d.orow = c.H * c.Dv;
  } else {
    d.ob = c.H * c.Lq * c.Dv;
    d.oh = c.Lq * c.Dv;
    d.orow = c.Dv;
  }
  d.p.scale = 1.0f / std::sqrt(float(c.Dk > 0 ? c.Dk : 1));
  d.p.causal = c.causal;
  MaskSpec& m = d.p.mask;
  if (c.mask == 1 || c.mask == 2) {
    const int64_t n = c.mask == 1 ? c.B * c.H * c.Lq * c.Lk : c.B * c.Lk;
    d.boolmask.resize(size_t(n));
    for (auto& x : d.boolmask) x = rng() % 4 != 0;
    if (c.mask == 1 && c.Lq > 2)
      for (int64_t j = 0; j < c.Lk; ++j) d.boolmask[size_t(2 * c.Lk + j)] = 0;  // row 2 fully masked
    m.kind = MaskKind::Bool;
    m.data = d.boolmask.data();
    if (c.mask == 1) {
      m.batch_stride = c.H * c.Lq * c.Lk;
      m.head_stride = c.Lq * c.Lk;
      m.query_stride = c.Lk;
      m.key_stride = 1;
    } else {
      m.batch_stride = c.Lk;
      m.head_stride = 0;
      m.query_stride = 0;
      m.key_stride = 1;
    }
  } else if (c.mask == 5 || c.mask == 6) {
    // Batch b keeps keys [0, len_b): len 0 (nothing), a few, about half, all.
    auto keep = [&](int64_t b, int64_t j) {
      return j < (b % 4 == 0 ? 0 : b % 4 == 1 ? 3 : b % 4 == 2 ? c.Lk / 2 : c.Lk);
    };
    if (c.mask == 5) {
      d.boolmask.resize(size_t(c.B * c.Lk));
      for (int64_t b = 0; b < c.B; ++b)
        for (int64_t j = 0; j < c.Lk; ++j) d.boolmask[size_t(b * c.Lk + j)] = keep(b, j);
      m.kind = MaskKind::Bool;
      m.data = d.boolmask.data();
    } else {
      d.addmask.resize(size_t(c.B * c.Lk));
      for (int64_t b = 0; b < c.B; ++b)
        for (int64_t j = 0; j < c.Lk; ++j)
          d.addmask[size_t(b * c.Lk + j)] = keep(b, j) ? 0.0f : -std::numeric_limits<float>::infinity();
      m.kind = MaskKind::Additive;
      m.data = d.addmask.data();
    }
    m.batch_stride = c.Lk;
    m.head_stride = 0;
    m.query_stride = 0;
    m.key_stride = 1;
  } else if (c.mask == 3 || c.mask == 4) {
    const int64_t n = c.mask == 3 ? c.Lq * c.Lk : c.B * c.H * c.Lq;
    d.addmask.resize(size_t(n));
    for (auto& x : d.addmask) x = rng() % 5 == 0 ? -std::numeric_limits<float>::infinity() : u(rng) * 2.0f;
    m.kind = MaskKind::Additive;
    m.data = d.addmask.data();
    if (c.mask == 3) {
      m.batch_stride = 0;
      m.head_stride = 0;
      m.query_stride = c.Lk;
      m.key_stride = 1;
    } else {
      m.batch_stride = c.H * c.Lq;
      m.head_stride = c.Lq;
      m.query_stride = 1;
      m.key_stride = 0;
    }
  }
  if (c.key_lengths) {
    for (int64_t b = 0; b < c.B; ++b) d.lengths.push_back(int32_t(b == 0 ? 0 : (b * 7919) % (c.Lk + 1)));
    if (c.B > 1) d.lengths.back() = int32_t(c.Lk);
    d.p.key_lengths = d.lengths.data();
  }
  return d;
}

// float64 reference output [b][h][i][Dv] (NaN where a NaN input reaches the row).
static std::vector<double> reference(const Case& c, const Data& d, std::vector<double>& absv) {
  std::vector<double> out(size_t(c.B * c.H * c.Lq * c.Dv), 0.0);
  absv.assign(out.size(), 0.0);
  std::vector<double> s(size_t(c.Lk));
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t i = 0; i < c.Lq; ++i) {
        const float* qi = d.hq.data + b * d.hq.batch_stride + h * d.hq.head_stride + i * d.hq.row_stride;
        int64_t lim = c.Lk;
        if (c.key_lengths) lim = d.lengths[size_t(b)];
        if (c.causal) lim = std::min<int64_t>(lim, std::max<int64_t>(0, i + c.Lk - c.Lq + 1));
        double mx = -INFINITY;
        bool nan = false;
        for (int64_t j = 0; j < lim; ++j) {
          const float* kj = d.hk.data + b * d.hk.batch_stride + h * d.hk.head_stride + j * d.hk.row_stride;
          double acc = 0;
          for (int64_t e = 0; e < c.Dk; ++e) acc += double(qi[e]) * double(kj[e]);
          acc *= double(d.p.scale);
          const MaskSpec& m = d.p.mask;
          const int64_t off = b * m.batch_stride + h * m.head_stride + i * m.query_stride + j * m.key_stride;
          if (m.kind == MaskKind::Bool && !static_cast<const uint8_t*>(m.data)[off]) acc = -INFINITY;
          if (m.kind == MaskKind::Additive) acc += static_cast<const float*>(m.data)[off];
          if (acc != acc) nan = true;
          s[size_t(j)] = acc;
          if (acc > mx) mx = acc;
        }
        double* o = &out[size_t(((b * c.H + h) * c.Lq + i) * c.Dv)];
        double* a = &absv[size_t(((b * c.H + h) * c.Lq + i) * c.Dv)];
        if (nan) {
          for (int64_t e = 0; e < c.Dv; ++e) o[e] = NAN;
          continue;
        }
        if (mx == -INFINITY) continue;  // nothing to attend to: 0
        double sum = 0;
        for (int64_t j = 0; j < lim; ++j) sum += (s[size_t(j)] = std::exp(s[size_t(j)] - mx));
        for (int64_t j = 0; j < lim; ++j) {
          const float* vj = d.hv.data + b * d.hv.batch_stride + h * d.hv.head_stride + j * d.hv.row_stride;
          for (int64_t e = 0; e < c.Dv; ++e) {
            o[e] += s[size_t(j)] / sum * double(vj[e]);
            a[e] += s[size_t(j)] / sum * std::fabs(double(vj[e]));
          }
        }
      }
  return out;
}

static std::vector<float> run(const Case& c, const Data& d, int threads) {
  const AttentionShape shape{c.B, c.H, c.Lq, c.Lk, c.Dk, c.Dv};
  std::vector<float> out(size_t(d.o_size), kNaN);  // poisoned: an unwritten cell shows
  const HeadsOut ho{out.data(), d.ob, d.oh, d.orow};
  CHECK(attention_check(shape, d.hq, d.hk, d.hv, ho) == Status::Ok, "%s: check", c.what);
  Lease lease = ComputePool::instance().lease(threads);
  const int64_t f = attention_scratch_floats(shape, lease.threads(), false);
  Workspace ws = WorkspacePool::instance().acquire(size_t(f));
  // Poison the scratch too: the kernel must not depend on what a previous call left.
  for (int64_t i = 0; i < f; ++i) ws.data()[i] = kNaN;
  attention_heads(lease, shape, d.hq, d.hk, d.hv, ho, d.p, ws.data());
  return out;
}

static double check_case(const Case& c, uint32_t seed, double tol) {
  Data d = make(c, seed);
  std::vector<double> absv;
  const std::vector<double> ref = reference(c, d, absv);
  const std::vector<float> one = run(c, d, 1), two = run(c, d, 2);
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0, "%s: 1 and 2 threads differ", c.what);
  double worst = 0;
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t i = 0; i < c.Lq; ++i) {
        const double* r = &ref[size_t(((b * c.H + h) * c.Lq + i) * c.Dv)];
        const double* a = &absv[size_t(((b * c.H + h) * c.Lq + i) * c.Dv)];
        const float* o = &one[size_t(b * d.ob + h * d.oh + i * d.orow)];
        double rmax = 0, emax = 0, amax = 0;
        bool ref_nan = false, out_nan = false;
        for (int64_t e = 0; e < c.Dv; ++e) {
          ref_nan |= r[e] != r[e];
          out_nan |= o[e] != o[e];
          rmax = std::max(rmax, std::fabs(r[e]));
          amax = std::max(amax, a[e]);
          emax = std::max(emax, std::fabs(double(o[e]) - r[e]));
        }
        if (ref_nan || out_nan) {
          CHECK(ref_nan && out_nan, "%s: b=%lld h=%lld i=%lld NaN ref %d out %d", c.what, (long long)b, (long long)h,
                (long long)i, ref_nan, out_nan);
          continue;
        }
        if (rmax == 0) {
          CHECK(emax == 0, "%s: b=%lld h=%lld i=%lld should be exactly 0 (max %g)", c.what, (long long)b, (long long)h,
                (long long)i, emax);
          continue;
        }
        // Normwise: max |err| / max |ref| over the row. A row of one or a few values can
        // cancel (|ref| << sum p·|v|), where no float32 sum is accurate relative to |ref|:
        // there the bound is relative to max sum p·|v| (the P·V condition), for Dv < 16 only.
        const double err = emax / (c.Dv < 16 ? std::max(rmax, amax) : rmax);
        worst = std::max(worst, err);
        CHECK(err <= tol, "%s: b=%lld h=%lld i=%lld normwise error %.3g > %.3g", c.what, (long long)b, (long long)h,
              (long long)i, err, tol);
      }
  // Cells outside the heads' columns are not ours; every cell of ours must be written.
  return worst;
}

int main() {
  const KernelTable& kt = kernels();
  if (na_test::requested_isa_missing(kt.name)) return 0;
  ComputePool::instance().set_num_threads(2);
  double worst = 0;
  uint32_t seed = 1;
  double worst_x100 = 0;
  auto go = [&](const Case& c, double tol = 1e-5) {
    const double w = check_case(c, seed++, tol);
    double& into = c.logit_scale > 1.0f ? worst_x100 : worst;
    if (w > into) into = w;
  };
  // Sizes around the micro-tiles (rows 4/6/12, keys 16/32, blocks 48 × 64), Dk != Dv.
  for (int64_t Lq : {1, 3, 17, 63, 65})
    for (int64_t Lk : {1, 3, 17, 63, 65, 1000}) {
      go({1, 2, Lq, Lk, 64, 64, 0, false, false, false, 1.0f, "plain D=64"});
      go({2, 1, Lq, Lk, 17, 33, 0, false, false, true, 1.0f, "Dk=17 Dv=33 merged"});
    }
  go({1, 1, 1000, 1000, 64, 64, 0, false, false, true, 1.0f, "L=1000 merged"});
  go({1, 2, 130, 70, 128, 96, 0, false, false, false, 1.0f, "Dk=128 Dv=96"});
  go({2, 2, 9, 40, 1, 5, 0, false, false, false, 1.0f, "Dk=1 Dv=5"});
  go({1, 2, 9, 40, 8, 1, 0, false, false, true, 1.0f, "Dv=1"});
  for (int mask = 1; mask <= 4; ++mask)
    for (int64_t L : {3, 65, 200}) {
      go({2, 3, L, L + 7, 32, 48, mask, false, false, true, 1.0f, "mask"});
      go({2, 2, L, L, 64, 64, mask, true, true, false, 1.0f, "mask + causal + key lengths"});
    }
  for (int mask = 5; mask <= 6; ++mask)
    for (int64_t L : {1, 65, 300}) {
      go({4, 2, L, L, 64, 64, mask, false, false, true, 1.0f, "padding mask (whole blocks hidden)"});
      go({4, 2, L, L + 70, 32, 16, mask, true, false, false, 1.0f, "padding mask + causal"});
    }
  for (int64_t Lq : {1, 17, 100, 300})
    for (int64_t Lk : {1, 17, 100, 300}) {
      go({1, 2, Lq, Lk, 64, 64, 0, true, false, true, 1.0f, "causal"});
      go({3, 1, Lq, Lk, 20, 24, 0, false, true, false, 1.0f, "key lengths (0, some, all)"});
    }
  // Logits ×100: probabilities change by orders of magnitude between key blocks (many
  // rescales), and a score's float32 rounding is 100× larger in absolute terms, so the
  // tolerance is scaled by the logit size (any float32 Q·Kᵀ has that error).
  go({1, 2, 100, 500, 64, 64, 0, false, false, false, 100.0f, "logits x100"}, 1e-4);
  go({1, 2, 100, 500, 64, 64, 0, true, false, false, 100.0f, "logits x100 causal"}, 1e-4);
  std::printf("worst normwise error: %.3g (unit-scale logits), %.3g (logits x100)\n", worst, worst_x100);

  // NaN: a NaN query element makes its row NaN; other rows stay finite; nothing crashes.
  {
    Case c{1, 1, 20, 70, 16, 16, 0, false, false, false, 1.0f, "NaN query"};
    Data d = make(c, 99);
    d.q[size_t(5 * 16 + 3)] = kNaN;
    const std::vector<float> out = run(c, d, 2);
    for (int64_t i = 0; i < 20; ++i) {
      bool nan = false;
      for (int64_t e = 0; e < 16; ++e) nan |= out[size_t(i * 16 + e)] != out[size_t(i * 16 + e)];
      CHECK(nan == (i == 5), "NaN query: row %lld nan %d", (long long)i, nan);
    }
    d.q[size_t(5 * 16 + 3)] = 0.5f;
    d.k[size_t(40 * 16)] = kNaN;  // key 40 is seen by every row
    const std::vector<float> out2 = run(c, d, 1);
    for (int64_t i = 0; i < 20; ++i)
      CHECK(out2[size_t(i * 16)] != out2[size_t(i * 16)], "NaN key: row %lld not NaN", (long long)i);
  }

  // GEMM on a packed weight (FlashKernel::pack_panels / gemm_panels) against a float64
  // product: sizes around the tiles (N % panel_width != 0, M % 12/6/4/16 != 0), bias or
  // none, panel ranges split in two, C with a larger row stride whose extra columns (and the
  // columns of panels not asked for) must stay untouched. M = 200 with K = 1024 takes the
  // AMX kernel through several chunks of split rows; in the vector kernels K = 1024 reads A
  // through the re-strided copy and K = 1500 takes two depth passes; K = 0 leaves the bias.
  {
    const FlashKernel& fk = kt.flash;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int64_t w = fk.panel_width;
    for (int64_t M : {1, 5, 13, 40, 200})
      for (int64_t N : {int64_t(1), w - 1, w + 3, 3 * w, int64_t(300)})
        for (int64_t K : {0, 1, 7, 64, 129, 1024, 1500})
          for (int with_bias = 0; with_bias < 2; ++with_bias) {
            std::vector<float> a(size_t(M * K)), b(size_t(K * (N + 5))), bias(static_cast<size_t>(N));
            for (float& x : a) x = u(rng);
            for (float& x : b) x = u(rng);
            for (float& x : bias) x = u(rng);
            const int64_t ldb = N + 5, ldc = N + 3, P = (N + w - 1) / w;
            float* bp = static_cast<float*>(std::aligned_alloc(64, size_t(fk.packed_floats(K, N)) * 4 + 64));
            fk.pack_panels(b.data(), ldb, K, N, bp);
            std::vector<float> c(size_t(M * ldc), -7.0f);
            const float* bs = with_bias ? bias.data() : nullptr;
            const int64_t split = P / 2;
            const bool ran = fk.gemm_panels(a.data(), M, K, bp, N, bs, c.data(), ldc, split, P) &&
                             fk.gemm_panels(a.data(), M, K, bp, N, bs, c.data(), ldc, 0, split);
            // (The AMX kernel leaves one-row products to OpenBLAS: it declines them.)
            const bool declines = kt.isa == na::Isa::Amx && M == 1;
            CHECK(ran != declines, "gemm_panels M=%lld N=%lld K=%lld: ran=%d", (long long)M, (long long)N, (long long)K,
                  ran);
            if (declines) {
              std::free(bp);
              continue;
            }
            double err = 0, ref_max = 0;
            bool untouched = true;
            for (int64_t i = 0; i < M; ++i) {
              for (int64_t j = 0; j < N; ++j) {
                double ref = with_bias ? bias[size_t(j)] : 0.0;
                for (int64_t k = 0; k < K; ++k) ref += double(a[size_t(i * K + k)]) * b[size_t(k * ldb + j)];
                err = std::fmax(err, std::fabs(c[size_t(i * ldc + j)] - ref));
                ref_max = std::fmax(ref_max, std::fabs(ref));
              }
              for (int64_t j = N; j < ldc; ++j) untouched = untouched && c[size_t(i * ldc + j)] == -7.0f;
            }
            CHECK(err <= 1e-5 * std::fmax(ref_max, 1.0), "gemm_panels M=%lld N=%lld K=%lld bias=%d: err %.3g",
                  (long long)M, (long long)N, (long long)K, with_bias, err);
            CHECK(untouched, "gemm_panels M=%lld N=%lld K=%lld wrote past column N", (long long)M, (long long)N,
                  (long long)K);
            std::vector<float> c2(size_t(M * ldc), -7.0f);  // a panel range alone writes only its columns
            if (P > 1) {
              fk.gemm_panels(a.data(), M, K, bp, N, bs, c2.data(), ldc, 1, 2);
              bool only = true;
              for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < ldc; ++j)
                  if (j >= w && j < std::min(2 * w, N) ? c2[size_t(i * ldc + j)] != c[size_t(i * ldc + j)]
                                                       : c2[size_t(i * ldc + j)] != -7.0f)
                    only = false;
              CHECK(only, "gemm_panels [1, 2) M=%lld N=%lld K=%lld touched other columns", (long long)M, (long long)N,
                    (long long)K);
            }
            std::free(bp);
          }
    // The AMX kernel splits A into a per-thread buffer, grown when a call needs more. When
    // that allocation fails it must say so (the caller then uses OpenBLAS), and work again
    // after. (Other paths need no buffer and always run.)
    {
      const int64_t M = 64, N = 3 * w, K = 8192;  // more split rows than any call above
      std::vector<float> a(size_t(M * K), 0.5f), b(size_t(K * N), 0.25f), c(size_t(M * N), -7.0f);
      float* bp = static_cast<float*>(std::aligned_alloc(64, size_t(fk.packed_floats(K, N)) * 4 + 64));
      fk.pack_panels(b.data(), N, K, N, bp);
      const int64_t P = (N + w - 1) / w;
      na::fault::arm(na::fault::Kind::Alloc, 0, 1);
      const bool ran = fk.gemm_panels(a.data(), M, K, bp, N, nullptr, c.data(), N, 0, P);
      na::fault::arm(na::fault::Kind::Alloc, 0, 0);
      CHECK(ran == (kt.isa != na::Isa::Amx), "gemm_panels with its buffer's allocation failing: ran=%d on %s", ran,
            kt.name);
      CHECK(fk.gemm_panels(a.data(), M, K, bp, N, nullptr, c.data(), N, 0, P), "gemm_panels after the failure");
      bool right = true;  // every product is 0.5 · 0.25 · 8192 = 1024, exactly
      for (float x : c) right = right && x == 1024.0f;
      CHECK(right, "gemm_panels after the failure: wrong result");
      std::free(bp);
    }
  }
  return na_test::test_exit("flash_attention_test");
}
