// How much could pre-packed weights save on the small shapes' projections? OpenBLAS packs
// the weight (B) on every cblas_sgemm call; onnxruntime packs constant weights once. For each
// product of S1 / S4 this times, one thread, interleaved (medians of `reps`):
//   small  C[M, N] = A[M, K] · W[K, N]            (what a forward does: W packed per call)
//   8x     the same W against 8·M rows, divided by 8 (W's packing amortised over 8 calls' rows)
// small − 8x/8 bounds what packing W once could save per call (it also includes OpenBLAS's
// per-call overhead and edge effects, which a packed GEMM of our own would have too).
//
//   cmake -S . -B build-bench -DNATIVE_ATTENTION_BENCH=ON && cmake --build build-bench
//   build-bench/gemm_shapes [reps=201]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "gemm.h"

using Clock = std::chrono::steady_clock;

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 201;
  na::blas_init();
  struct P {
    const char* what;
    int M, N, K;
  } products[] = {
      {"S1 QKV  (128 x 1536 x 512)", 128, 1536, 512},
      {"S1 out  (128 x 512 x 512)", 128, 512, 512},
      {"S4 QKV  (2048 x 768 x 256)", 2048, 768, 256},
      {"S4 out  (2048 x 256 x 256)", 2048, 256, 256},
  };
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::printf("one thread, OpenBLAS %s, median of %d\n", na::blas_core_name(), reps);
  for (const P& p : products) {
    std::vector<float> a(size_t(8) * p.M * p.K), w(size_t(p.K) * p.N), c(size_t(8) * p.M * p.N);
    for (float& x : a) x = u(rng);
    for (float& x : w) x = u(rng);
    std::vector<double> t1, t8;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      na::sgemm(false, p.M, p.N, p.K, 1.0f, a.data(), p.K, w.data(), p.N, 0.0f, c.data(), p.N);
      t1.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      t0 = Clock::now();
      na::sgemm(false, 8 * p.M, p.N, p.K, 1.0f, a.data(), p.K, w.data(), p.N, 0.0f, c.data(), p.N);
      t8.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / 8);
    }
    const double f = 2.0 * p.M * p.N * p.K;
    const double m1 = median(t1), m8 = median(t8);
    std::printf("%-28s small %8.1f us (%5.1f GFLOP/s)   8x/8 %8.1f us (%5.1f GFLOP/s)   bound %4.1f%%\n", p.what, m1,
                f / m1 / 1e3, m8, f / m8 / 1e3, 100.0 * (m1 - m8) / m1);
  }
  return 0;
}
