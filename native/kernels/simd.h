// Runtime ISA dispatch for the few loops we write ourselves. The build targets baseline
// x86-64 so one binary runs everywhere; NA_SIMD_CLONES compiles a function for AVX-512,
// AVX2+FMA and baseline, and the loader picks one per CPU (GCC function multi-versioning
// through an ifunc). Helpers called from such a function are forced inline so that each
// clone compiles them for its own ISA.
#pragma once

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && !defined(NA_NO_CLONES)
#define NA_SIMD_CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define NA_SIMD_CLONES
#endif

#define NA_INLINE inline __attribute__((always_inline))
