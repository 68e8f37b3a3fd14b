// CPU detection and the kernel table: the instruction set is chosen once per process, by
// features (CPUID + XGETBV on x86), never by CPU model. Each instruction set's kernels live
// in their own translation unit compiled with their own flags (see CMakeLists.txt), and a
// portable C++ path always exists. NATIVE_ATTENTION_ISA=amx|avx512|avx2|generic forces a
// path; one the CPU (or the build) lacks falls back to the widest one available.
#pragma once
#include <cstdint>

#include "flash_attention.h"
#include "softmax.h"

namespace na {

enum class Isa : int { Generic = 0, Avx2 = 1, Avx512 = 2, Amx = 3 };

struct CpuFeatures {
  bool x86 = false;
  bool avx2 = false;     // AVX2 + FMA3, and the OS saves the ymm state
  bool avx512f = false;  // AVX-512F, and the OS saves the zmm + opmask state
  // AMX-TILE + AMX-BF16 + AVX512-BF16 (and AVX-512F), and the OS saves the tile state. The
  // process asks for the tiles (Linux: arch_prctl ARCH_REQ_XCOMP_PERM) only when the table
  // picks this path; refused, the table keeps AVX-512.
  bool amx = false;
  bool built_avx2 = false;    // this build contains the AVX2 kernels
  bool built_avx512 = false;  // this build contains the AVX-512 kernels
  bool built_amx = false;     // this build contains the AMX kernel
};

// What the CPU and the OS support (detected once).
const CpuFeatures& cpu_features();

// The kernels every caller uses: filled once, on first use (thread-safe).
struct KernelTable {
  Isa isa;
  const char* name;       // "amx", "avx512", "avx2" or "generic"
  const char* requested;  // the NATIVE_ATTENTION_ISA value, or "" when unset
  FlashKernel flash;
  void (*softmax_row)(float* s, int limit, int width, const MaskRow& mask);
};
const KernelTable& kernels();

// The instruction set actually in use ("amx", "avx512", "avx2" or "generic").
const char* active_isa_name();

}  // namespace na
