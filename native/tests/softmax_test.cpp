// Native tests of the softmax row kernel against a double-precision reference: row
// lengths around the 16-lane SIMD width, masks (bool, additive, broadcast), limits, rows
// with nothing to attend to, NaN propagation, and the accuracy of each path's exp over its
// whole range. Runs on the instruction set NATIVE_ATTENTION_ISA selects (ctest runs it once
// per path; a path the CPU lacks is reported and skipped). Exit code 0 = pass.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "cpu_features.h"
#include "softmax.h"

using na::MaskKind;
using na::MaskRow;

// Reference: masked entries excluded; nothing left -> all zeros.
static std::vector<double> reference(const std::vector<float>& s, int limit, int width, const MaskRow& m) {
  std::vector<double> p(width, 0.0);
  double mx = -INFINITY;
  std::vector<double> v(limit);
  for (int j = 0; j < limit; ++j) {
    double x = s[j];
    if (m.kind == MaskKind::Bool && !static_cast<const uint8_t*>(m.data)[j * m.stride]) x = -INFINITY;
    if (m.kind == MaskKind::Additive) x += static_cast<const float*>(m.data)[j * m.stride];
    v[j] = x;
    if (x > mx) mx = x;
  }
  if (mx == -INFINITY) return p;
  double sum = 0;
  for (int j = 0; j < limit; ++j) sum += (p[j] = std::exp(v[j] - mx));
  for (int j = 0; j < limit; ++j) p[j] /= sum;
  return p;
}

// The kernel's exp, seen through rows [0, x1, ..., x15]: the maximum is 0, so each
// probability is exp(xj) times one common factor and p[j] / p[0] = exp(xj) to within two
// roundings. Every 97th float of [-87, 0] (about 11 million, all exponents): relative error
// at most 2.5e-7 where exp(x) >= 1e-8 (every weight that can move a result at float
// precision), 6e-7 down to -87; 0 below -87.5 and for -inf.
static void check_exp() {
  const float lo = -87.0f;
  uint32_t end;
  std::memcpy(&end, &lo, sizeof end);
  double worst_main = 0, worst_tail = 0;
  float row[16];
  int filled = 1;
  row[0] = 0.0f;
  auto flush = [&]() {
    float p[16];
    std::memcpy(p, row, sizeof p);
    na::masked_softmax_row(p, filled, filled, MaskRow{});
    for (int j = 1; j < filled; ++j) {
      const double want = std::exp(double(row[j])), got = double(p[j]) / double(p[0]);
      const double rel = std::fabs(got - want) / want;
      double& worst = want >= 1e-8 ? worst_main : worst_tail;
      if (rel > worst) worst = rel;
    }
    filled = 1;
  };
  for (uint64_t bits = 0x80000000u; bits <= end; bits += 97) {
    float x;
    const uint32_t b = uint32_t(bits);
    std::memcpy(&x, &b, sizeof x);
    row[filled++] = x;
    if (filled == 16) flush();
  }
  if (filled > 1) flush();
  std::printf("exp: max rel err %.3g (exp(x) >= 1e-8), %.3g (down to -87)\n", worst_main, worst_tail);
  CHECK(worst_main <= 2.5e-7, "exp: rel err %g where exp(x) >= 1e-8", worst_main);
  CHECK(worst_tail <= 6e-7, "exp: rel err %g down to -87", worst_tail);
  float under[4] = {0.0f, -87.5f, -1000.0f, -std::numeric_limits<float>::infinity()};
  na::masked_softmax_row(under, 4, 4, MaskRow{});
  CHECK(under[0] == 1.0f && under[1] == 0.0f && under[2] == 0.0f && under[3] == 0.0f, "underflow: %g %g %g %g",
        under[0], under[1], under[2], under[3]);
}

int main() {
  if (na_test::requested_isa_missing(na::kernels().name)) return 0;
  check_exp();
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  for (int width : {1, 3, 15, 16, 17, 31, 32, 33, 100, 1000}) {
    for (int kind = 0; kind < 3; ++kind) {
      for (int limit : {width, width / 2, 0}) {
        std::vector<float> s(width);
        for (float& x : s) x = u(rng);
        std::vector<uint8_t> keep(width);
        std::vector<float> add(width);
        for (int j = 0; j < width; ++j) {
          keep[j] = rng() % 4 != 0;
          add[j] = keep[j] ? u(rng) * 0.25f : -std::numeric_limits<float>::infinity();
        }
        MaskRow m;
        m.kind = MaskKind(kind);
        m.data = kind == 1 ? static_cast<const void*>(keep.data()) : static_cast<const void*>(add.data());
        m.stride = 1;
        const auto ref = reference(s, limit, width, m);
        std::vector<float> got = s;
        na::masked_softmax_row(got.data(), limit, width, m);
        double err = 0, norm = 0;
        for (int j = 0; j < width; ++j) {
          err += (got[j] - ref[j]) * (got[j] - ref[j]);
          norm += ref[j] * ref[j];
          CHECK(std::isfinite(got[j]), "width %d kind %d limit %d: p[%d] = %g", width, kind, limit, j, got[j]);
        }
        CHECK(norm == 0 ? err == 0 : std::sqrt(err / norm) < 1e-6, "width %d kind %d limit %d: rel err %g", width, kind,
              limit, norm == 0 ? err : std::sqrt(err / norm));
      }
    }
  }
  // A broadcast mask (stride 0) that masks everything: zeros, not NaN.
  {
    std::vector<float> s(40, 1.0f);
    const uint8_t zero = 0;
    MaskRow m{MaskKind::Bool, &zero, 0};
    na::masked_softmax_row(s.data(), 40, 40, m);
    for (float x : s) CHECK(x == 0.0f, "fully masked row: %g", x);
  }
  // NaN scores propagate instead of being silently dropped.
  {
    std::vector<float> s(20, 0.5f);
    s[7] = std::numeric_limits<float>::quiet_NaN();
    na::masked_softmax_row(s.data(), 20, 20, MaskRow{});
    CHECK(std::isnan(s[0]) && std::isnan(s[7]), "NaN did not propagate: %g %g", s[0], s[7]);
  }
  // Very large scores: no overflow thanks to the max subtraction.
  {
    std::vector<float> s = {3e38f, 3e38f, -3e38f};
    na::masked_softmax_row(s.data(), 3, 3, MaskRow{});
    CHECK(std::fabs(s[0] - 0.5f) < 1e-6f && std::fabs(s[1] - 0.5f) < 1e-6f && s[2] == 0.0f, "large: %g %g %g", s[0],
          s[1], s[2]);
  }
  return na_test::test_exit("softmax_test");
}
