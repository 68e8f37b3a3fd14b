// The exp polynomial of the vector paths' softmax (flash_attention_avx2.cpp and
// flash_attention_avx512.cpp): exp(x) = 2^n · exp(r), x = n·ln2 + r, |r| <= ln2/2. Constants
// only (internal linkage, nothing the linker could merge across the instruction-set units).
#pragma once

namespace na {
namespace exp_poly {

constexpr float kLog2e = 1.44269504088896341f;
// ln 2 rounded to float, in one constant: the FMA's single rounding keeps r exact enough
// for every result above 1e-37 (the error grows with n, i.e. only where results are tiny).
constexpr float kLn2 = 0.693147182464599609375f;
// exp(r) ≈ c[0] + r·(c[1] + r·(c[2] + …)): degree 5, fitted for relative error on
// |r| <= ln2/2 (iteratively reweighted least squares on Chebyshev nodes, c[0] = 1 fixed so
// that exp(0) is exactly 1). Every float of [-87, 0] against double exp: at most 2.1e-7
// relative for x >= -20, 3.9e-7 (5 ulp) nearer -87 (native/tests/softmax_test.cpp).
constexpr int kDegree = 5;
constexpr float kC[kDegree + 1] = {1.0f, 9.999997e-1f, 4.999915e-1f, 1.6667636e-1f, 4.189793e-2f, 8.290309e-3f};

}  // namespace exp_poly
}  // namespace na
