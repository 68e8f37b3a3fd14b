#include "cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define NA_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#if defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <sys/syscall.h>
#include <unistd.h>
#define NA_LINUX_X86 1
#endif
#endif

namespace na {

namespace {

#if defined(NA_X86)
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER) && !defined(__clang__)
  int v[4];
  __cpuidex(v, int(leaf), int(sub));
  for (int i = 0; i < 4; ++i) r[i] = unsigned(v[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

// XCR0: which register states the OS saves on a context switch. Only valid once CPUID
// says OSXSAVE. Emitted as raw bytes so no -mxsave flag is needed.
uint64_t xgetbv0() {
#if defined(_MSC_VER) && !defined(__clang__)
  return _xgetbv(0);
#else
  uint32_t lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
#endif
}

// Linux hands out the AMX tile state only to processes that ask (5.16+): without it the
// first tile instruction faults. Asked for the whole process, and only when the AMX path is
// chosen (the grant enlarges the process's signal frames); false where refused.
bool request_tile_state() {
#if defined(NA_LINUX_X86) && defined(SYS_arch_prctl)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(NA_X86)
  f.x86 = true;
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  cpuid(1, 0, r);
  const bool osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1, fma = (r[2] >> 12) & 1;
  if (osxsave && avx && max_leaf >= 7) {
    const uint64_t xcr0 = xgetbv0();
    cpuid(7, 0, r);
    const bool avx2 = (r[1] >> 5) & 1, avx512f = (r[1] >> 16) & 1;
    // xmm + ymm state (bits 1, 2); AVX-512 also needs opmask, zmm0-15 high halves and
    // zmm16-31 (bits 5, 6, 7): (xcr0 & 0xE6) == 0xE6.
    f.avx2 = avx2 && fma && (xcr0 & 0x6) == 0x6;
    f.avx512f = f.avx2 && avx512f && (xcr0 & 0xE6) == 0xE6;
    // AMX-BF16, AMX-TILE: leaf 7 EDX bits 22, 24; AVX512-BF16 (the splits' conversion):
    // leaf 7.1 EAX bit 5; tile config and data state: XCR0 bits 17, 18.
    const bool amx_bf16 = (r[3] >> 22) & 1, amx_tile = (r[3] >> 24) & 1;
    const unsigned max_sub = r[0];
    bool avx512_bf16 = false;
    if (max_sub >= 1) {
      cpuid(7, 1, r);
      avx512_bf16 = (r[0] >> 5) & 1;
    }
    const bool tiles_saved = (xcr0 & 0x60000) == 0x60000;
    f.amx = f.avx512f && amx_bf16 && amx_tile && avx512_bf16 && tiles_saved;
  }
#endif
#if defined(NA_HAVE_X86_KERNELS)
  f.built_avx2 = f.built_avx512 = true;
#endif
#if defined(NA_HAVE_AMX_KERNEL)
  f.built_amx = true;
#endif
  return f;
}

KernelTable make_table() {
  const CpuFeatures& f = cpu_features();
  const char* env = std::getenv("NATIVE_ATTENTION_ISA");
  Isa want = Isa::Amx;  // widest by default; clamped below to what exists
  if (env && std::strcmp(env, "avx512") == 0) want = Isa::Avx512;
  if (env && std::strcmp(env, "generic") == 0) want = Isa::Generic;
  if (env && std::strcmp(env, "avx2") == 0) want = Isa::Avx2;

  KernelTable t;
  t.requested = env ? env : "";
  t.isa = Isa::Generic;
  t.name = "generic";
  t.flash = generic::flash_kernel();
  t.softmax_row = generic::softmax_row;
#if defined(NA_HAVE_X86_KERNELS)
  if (want >= Isa::Avx512 && f.avx512f && f.built_avx512) {
    t.isa = Isa::Avx512;
    t.name = "avx512";
    t.flash = avx512::flash_kernel();
    t.softmax_row = avx512::softmax_row;
  } else if (want >= Isa::Avx2 && f.avx2 && f.built_avx2) {
    t.isa = Isa::Avx2;
    t.name = "avx2";
    t.flash = avx2::flash_kernel();
    t.softmax_row = avx2::softmax_row;
  }
#if defined(NA_HAVE_AMX_KERNEL)
  // AMX: the AVX-512 kernels with the packed GEMM on the tile unit.
  if (want >= Isa::Amx && f.amx && f.built_amx && request_tile_state()) {
    t.isa = Isa::Amx;
    t.name = "amx";
    t.flash = amx::flash_kernel();
  }
#endif
#else
  (void)want;
  (void)f;
#endif
  return t;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const KernelTable& kernels() {
  static const KernelTable t = make_table();
  return t;
}

const char* active_isa_name() { return kernels().name; }

}  // namespace na
