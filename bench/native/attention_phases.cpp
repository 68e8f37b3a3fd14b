// Per-phase timing of the attention core, single thread, against the kernels library alone:
//   sgemm      cblas_sgemm n³, n = CEILING_N or 1024 (the bench's own ceiling is 2048³)
//   old path   per (head, query block): OpenBLAS Q·Kᵀ | softmax rows | OpenBLAS P·V
//   fused      attention_heads without weights (the instruction set NATIVE_ATTENTION_ISA picks),
//              then each path the CPU has, task by task (SKIP_GENERIC=1 leaves the slow one out,
//              SKIP_OLD=1 the old path)
// Heads are contiguous [H, L, D] (what mha.cpp builds for L >= 512). Medians of --reps runs,
// everything interleaved in every repetition so drift hits all of them.
//
//   cmake -S . -B build-bench -DNATIVE_ATTENTION_BENCH=ON && cmake --build build-bench
//   build-bench/attention_phases [L=2048] [D=64] [H=16] [reps=7] [causal=0]
// Instruction counts (a second opinion when the machine is noisy; valgrind has no AVX-512):
//   CEILING_N=16 NATIVE_ATTENTION_ISA=avx2 OPENBLAS_CORETYPE=Haswell SKIP_GENERIC=1
//     valgrind --tool=callgrind build-bench/attention_phases 1024 64 1 1
//   then callgrind_annotate --inclusive=yes: cblas_sgemm + masked_softmax_row (old path)
//   against run_task / 3 (the fused kernel runs three times per repetition)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "attention.h"
#include "cpu_features.h"
#include "gemm.h"
#include "softmax.h"
#include "workspace.h"

using namespace na;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

int main(int argc, char** argv) {
  const int64_t L = argc > 1 ? std::atoll(argv[1]) : 2048;
  const int64_t D = argc > 2 ? std::atoll(argv[2]) : 64;
  const int64_t H = argc > 3 ? std::atoll(argv[3]) : 16;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 7;
  const bool causal = argc > 5 && std::atoi(argv[5]) != 0;
  blas_init();
  ComputePool::instance().set_num_threads(1);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> q(size_t(H * L * D)), k(q.size()), v(q.size()), o(q.size());
  for (auto* a : {&q, &k, &v})
    for (float& x : *a) x = u(rng);
  const int n = std::getenv("CEILING_N") ? std::atoi(std::getenv("CEILING_N")) : 1024;  // the sgemm ceiling's size
  std::vector<float> ga(size_t(n) * n), gb(ga.size()), gc(ga.size());
  for (float& x : ga) x = u(rng);
  for (float& x : gb) x = u(rng);

  const AttentionShape s{1, H, L, L, D, D};
  const HeadsIn hq{q.data(), H * L * D, L * D, D}, hk{k.data(), H * L * D, L * D, D}, hv{v.data(), H * L * D, L * D, D};
  const HeadsOut ho{o.data(), H * L * D, L * D, D};
  AttentionParams p;
  p.scale = 1.0f / std::sqrt(float(D));
  p.causal = causal;
  Lease lease = ComputePool::instance().lease(1);
  Workspace ws = WorkspacePool::instance().acquire(size_t(attention_scratch_floats(s, 1, false)));
  const int64_t qb = attention_query_block(L, L);
  std::vector<float> S(size_t(qb * L));

  std::vector<double> t_gemm, t_qk, t_sm, t_pv, t_fused;
  std::vector<std::pair<const char*, FlashKernel>> paths{{"generic", generic::flash_kernel()}};
  const CpuFeatures& cf = cpu_features();
  if (cf.built_avx2 && cf.avx2) paths.push_back({"avx2", avx2::flash_kernel()});
  if (cf.built_avx512 && cf.avx512f) paths.push_back({"avx512", avx512::flash_kernel()});
  if (std::getenv("SKIP_GENERIC")) paths.erase(paths.begin());
  const bool skip_old = std::getenv("SKIP_OLD") != nullptr;
  std::vector<std::vector<double>> t_path(paths.size());
  std::vector<Workspace> pws;
  for (auto& e : paths) pws.push_back(WorkspacePool::instance().acquire(size_t(e.second.scratch_floats(L, D, D))));
  for (int r = 0; r < reps; ++r) {
    // The sgemm ceiling in every repetition (so drift hits it too), then one untimed call
    // that brings the heads back into the caches the sgemm evicted.
    auto t0 = Clock::now();
    sgemm(false, n, n, n, 1.0f, ga.data(), n, gb.data(), n, 0.0f, gc.data(), n);
    t_gemm.push_back(ms_since(t0));
    attention_heads(lease, s, hq, hk, hv, ho, p, ws.data());

    double qk = 0, sm = 0, pv = 0;
    for (int64_t h = 0; h < (skip_old ? 0 : H); ++h)
      for (int64_t i0 = 0; i0 < L; i0 += qb) {
        const int rows = int(std::min(qb, L - i0));
        const int cols = int(causal ? std::min<int64_t>(L, i0 + rows) : L);
        auto t1 = Clock::now();
        sgemm(true, rows, cols, int(D), p.scale, q.data() + (h * L + i0) * D, int(D), k.data() + h * L * D, int(D),
              0.0f, S.data(), cols);
        qk += ms_since(t1);
        t1 = Clock::now();
        for (int r2 = 0; r2 < rows; ++r2)
          masked_softmax_row(S.data() + r2 * cols, causal ? int(i0 + r2 + 1) : cols, cols, MaskRow{});
        sm += ms_since(t1);
        t1 = Clock::now();
        sgemm(false, rows, int(D), cols, 1.0f, S.data(), cols, v.data() + h * L * D, int(D), 0.0f,
              o.data() + (h * L + i0) * D, int(D));
        pv += ms_since(t1);
      }
    t_qk.push_back(qk);
    t_sm.push_back(sm);
    t_pv.push_back(pv);

    t0 = Clock::now();
    attention_heads(lease, s, hq, hk, hv, ho, p, ws.data());
    t_fused.push_back(ms_since(t0));

    // Every path this CPU has, on the same data, one thread: FlashKernel::run per task.
    for (size_t e = 0; e < paths.size(); ++e) {
      const FlashKernel& fk = paths[e].second;
      flash_reset_scratch(pws[e].data());
      t0 = Clock::now();
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i0 = 0; i0 < L; i0 += fk.query_block) {
          FlashTask t{};
          t.i0 = i0;
          t.rows = std::min(fk.query_block, L - i0);
          t.q = q.data() + (h * L + i0) * D;
          t.k = k.data() + h * L * D;
          t.v = v.data() + h * L * D;
          t.o = o.data() + (h * L + i0) * D;
          t.ldq = t.ldk = t.ldv = t.ldo = D;
          t.Dk = t.Dv = D;
          t.keys = L;
          t.causal = causal;
          t.causal_shift = 0;
          t.scale = p.scale;
          t.mask_kind = MaskKind::None;
          t.head_tag = h;
          fk.run(t, pws[e].data());
        }
      t_path[e].push_back(ms_since(t0));
    }
  }
  const double g = 2.0 * n * n * n / median(t_gemm) / 1e6;
  const double half = 2.0 * H * L * L * D * (causal ? 0.5 : 1.0);  // flops of one of the two products
  auto line = [&](const char* what, double ms, double flops) {
    if (flops > 0)
      std::printf("%-22s %9.2f ms  %6.1f GFLOP/s  %5.1f%% of sgemm\n", what, ms, flops / ms / 1e6,
                  100.0 * flops / ms / 1e6 / g);
    else
      std::printf("%-22s %9.2f ms\n", what, ms);
  };
  std::printf("L=%lld D=%lld H=%lld%s, 1 thread, median of %d; fused isa: %s; OpenBLAS: %s\n", (long long)L,
              (long long)D, (long long)H, causal ? " causal" : "", reps, active_isa_name(), blas_core_name());
  char ceiling[32];
  std::snprintf(ceiling, sizeof ceiling, "sgemm %d^3", n);
  line(ceiling, median(t_gemm), 2.0 * n * n * n);
  line("old: Q.K^T (sgemm)", median(t_qk), half);
  line("old: softmax", median(t_sm), 0);
  line("old: P.V (sgemm)", median(t_pv), half);
  line("old: total", median(t_qk) + median(t_sm) + median(t_pv), 2 * half);
  line("fused (active isa)", median(t_fused), 2 * half);
  for (size_t e = 0; e < paths.size(); ++e) {
    char name[64];
    std::snprintf(name, sizeof name, "fused %s", paths[e].first);
    line(name, median(t_path[e]), 2 * half);
  }
  return 0;
}
