// Does a GEMM on a weight packed once, on our own micro-tiles (FlashKernel::gemm_panels),
// beat OpenBLAS on the projection shapes? OpenBLAS 0.3.21's cblas_sgemm repacks the weight
// on every call; onnxruntime packs constant weights once (MLAS PrePack). For each product
// C[M, N] = A[M, K] · W[K, N] + bias this times, alternating in blocks of calls:
//   blas      na::gemm_bias (what mha.cpp calls: bias-seeded cblas_sgemm, sgemv for M = 1)
//   <isa>     pack_panels(W) once (not timed per call), then gemm_panels on every panel
// for every path the CPU has (generic, avx2, avx512, amx). Medians of `reps` blocks, per call.
// With threads = 2 both run on a 2-thread lease: gemm_bias splits as it does in the
// library, the packed variant gives each thread half of the panels.
// The packed results are checked against gemm_bias (max |difference| / max |C|).
//
//   cmake -S . -B build-bench -DNATIVE_ATTENTION_BENCH=ON && cmake --build build-bench
//   build-bench/projection_gemm [reps=11] [threads=1] [block_ms=4]
//   SKIP_GENERIC=1 leaves the portable path out; SHAPES=S1qkv,M1 picks shapes by name;
//   OPENBLAS_CORETYPE=Haswell gives OpenBLAS's AVX2 kernels (the fair ceiling for avx2).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compute_pool.h"
#include "cpu_features.h"
#include "flash_attention.h"
#include "gemm.h"

using namespace na;
using Clock = std::chrono::steady_clock;

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

struct AlignedFloats {
  float* p = nullptr;
  explicit AlignedFloats(size_t n) {
    p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
  }
  ~AlignedFloats() { std::free(p); }
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
};

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 11;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const double block_ms = argc > 3 ? std::atof(argv[3]) : 4.0;
  blas_init();
  ComputePool::instance().set_num_threads(threads);
  const Lease lease = ComputePool::instance().lease(threads);
  struct Shape {
    const char* name;
    int M, N, K;
  } shapes[] = {
      {"S1qkv", 128, 1536, 512},  {"S1out", 128, 512, 512},   {"S4qkv", 2048, 768, 256},  {"S4out", 2048, 256, 256},
      {"S2qkv", 2048, 2304, 768}, {"D8", 8, 3072, 2048},      {"M1", 1, 3072, 2048},      {"S3qkv", 2048, 3072, 1024},
      {"R2", 2, 3072, 2048},      {"R4", 4, 3072, 2048},      {"R16", 16, 1536, 512},     {"M256", 256, 1536, 512},
      {"M512", 512, 1536, 512},   {"M1024", 1024, 1536, 512}, {"M512w", 512, 3072, 2048},
  };
  std::vector<std::pair<const char*, FlashKernel>> paths;
  if (!std::getenv("SKIP_GENERIC")) paths.push_back({"generic", generic::flash_kernel()});
  const CpuFeatures& cf = cpu_features();
  if (cf.built_avx2 && cf.avx2) paths.push_back({"avx2", avx2::flash_kernel()});
  if (cf.built_avx512 && cf.avx512f) paths.push_back({"avx512", avx512::flash_kernel()});
  // AMX needs the tile state, which the kernel table asks the OS for when it picks that path.
  if (cf.built_amx && cf.amx && kernels().isa == Isa::Amx) paths.push_back({"amx", amx::flash_kernel()});
  const char* pick = std::getenv("SHAPES");

  std::printf(
      "%d thread(s) leased, OpenBLAS %s, median of %d blocks of ~%.0f ms; time = us per call, x = path / blas\n",
      lease.threads(), blas_core_name(), reps, block_ms);
  std::printf("%-6s %16s %9s %8s", "shape", "M x N x K", "blas us", "GFLOP/s");
  for (auto& e : paths) std::printf(" | %7s us %7s %6s %7s", e.first, "GFLOP/s", "x", "relerr");
  std::printf(" | pack ms\n");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (const Shape& s : shapes) {
    if (pick && !std::strstr(pick, s.name)) continue;
    const int M = s.M, N = s.N, K = s.K;
    std::vector<float> a(size_t(M) * K), w(size_t(K) * N), bias(static_cast<size_t>(N)), cref(size_t(M) * N),
        c(size_t(M) * N);
    for (float& x : a) x = u(rng);
    for (float& x : w) x = u(rng);
    for (float& x : bias) x = u(rng);
    // Pack once per path; check against gemm_bias.
    std::vector<AlignedFloats*> packed;
    std::vector<double> pack_ms, relerr;
    std::vector<bool> declined;
    gemm_bias(lease, M, N, K, a.data(), K, w.data(), N, bias.data(), cref.data(), N);
    float cmax = 0;
    for (float x : cref) cmax = std::max(cmax, std::fabs(x));
    for (auto& e : paths) {
      const FlashKernel& fk = e.second;
      packed.push_back(new AlignedFloats(size_t(fk.packed_floats(K, N))));
      const auto t0 = Clock::now();
      fk.pack_panels(w.data(), N, K, N, packed.back()->p);
      pack_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      std::fill(c.begin(), c.end(), std::nanf(""));
      const bool ran = fk.gemm_panels(a.data(), M, K, packed.back()->p, N, bias.data(), c.data(), N, 0,
                                      (N + fk.panel_width - 1) / fk.panel_width);
      float d = 0;
      bool written = true;
      for (size_t i = 0; i < c.size(); ++i) {
        written = written && !std::isnan(c[i]);
        d = std::max(d, std::fabs(c[i] - cref[i]));
      }
      declined.push_back(!ran);                    // AMX leaves one-row products to OpenBLAS
      relerr.push_back(written ? d / cmax : NAN);  // NaN: a column was not written
    }
    // Variant v: 0 = blas, 1.. = paths.
    const size_t nv = paths.size() + 1;
    auto call = [&](size_t v) {
      if (v == 0) {
        gemm_bias(lease, M, N, K, a.data(), K, w.data(), N, bias.data(), c.data(), N);
        return;
      }
      const FlashKernel& fk = paths[v - 1].second;
      const float* bp = packed[v - 1]->p;
      const int64_t P = (N + fk.panel_width - 1) / fk.panel_width;
      if (threads <= 1) {
        fk.gemm_panels(a.data(), M, K, bp, N, bias.data(), c.data(), N, 0, P);
      } else {
        const int chunks = int(std::min<int64_t>(threads, P));
        lease.parallel_for(chunks, [&](int64_t i, int) {
          fk.gemm_panels(a.data(), M, K, bp, N, bias.data(), c.data(), N, P * i / chunks, P * (i + 1) / chunks);
        });
      }
    };
    // Calls per block from one warm blas call.
    call(0);
    auto t0 = Clock::now();
    call(0);
    const double one_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const int calls = std::max(1, std::min(2000, int(block_ms / std::max(one_ms, 1e-4))));
    std::vector<std::vector<double>> t(nv);
    for (size_t v = 0; v < nv; ++v) call(v);  // warm every variant
    for (int r = 0; r < reps; ++r)
      for (size_t i = 0; i < nv; ++i) {
        const size_t v = (i + size_t(r)) % nv;  // rotate the order each round
        t0 = Clock::now();
        for (int k = 0; k < calls; ++k) call(v);
        t[v].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / calls);
      }
    const double flops = 2.0 * M * N * K, tb = median(t[0]);
    char dims[32];
    std::snprintf(dims, sizeof dims, "%dx%dx%d", M, N, K);
    std::printf("%-6s %16s %9.1f %8.1f", s.name, dims, tb, flops / tb / 1e3);
    for (size_t v = 1; v < nv; ++v) {
      const double tv = median(t[v]);
      if (declined[v - 1]) {
        std::printf(" | %10s %7s %6s %7s", "declined", "-", "-", "-");
        continue;
      }
      std::printf(" | %10.1f %7.1f %6.3f %7.1e", tv, flops / tv / 1e3, tv / tb, relerr[v - 1]);
    }
    std::printf(" |");
    for (double p : pack_ms) std::printf(" %.2f", p);
    std::printf("\n");
    std::fflush(stdout);
    for (auto* p : packed) delete p;
  }
  return 0;
}
