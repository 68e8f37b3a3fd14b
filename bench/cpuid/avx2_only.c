/* An AVX2-only CPU, as every library in one process sees it: preloaded (LD_PRELOAD) by
 * bench/scripts/avx2-only.mjs, it turns on Linux's CPUID faulting (arch_prctl
 * ARCH_SET_CPUID, where the CPU has it: the cpuid_fault flag) and answers each CPUID itself,
 * with AVX-512, AMX and AVX-VNNI cleared. onnxruntime's MLAS, OpenBLAS, V8 and our own
 * detection then all choose their AVX2 kernels, as on an AVX2-only server (an AMD Zen 3,
 * say), while the hardware underneath stays the same: ratios between peers measured this way
 * compare AVX2 code with AVX2 code. (XGETBV cannot be trapped, but every library checks
 * CPUID's feature bits before the OS state, and those say no AVX-512.)
 *
 * A CPUID fault arrives as SIGSEGV. The program's own SIGSEGV handlers (Node resets every
 * signal at start-up, V8 adds one for WebAssembly) are kept aside by the sigaction below and
 * called for every other fault, so crashes stay crashes. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012

typedef int (*sigaction_fn)(int, const struct sigaction*, struct sigaction*);
static sigaction_fn real_sigaction;
static struct sigaction program_segv; /* what the program asked for SIGSEGV */

#define BIT(n) (1u << (n))

static void answer_cpuid(ucontext_t* uc) {
  greg_t* r = uc->uc_mcontext.gregs;
  const unsigned leaf = (unsigned)r[REG_RAX], sub = (unsigned)r[REG_RCX];
  unsigned a, b, c, d;
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1); /* the real answer, then fault again */
  __cpuid_count(leaf, sub, a, b, c, d);
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
  if (leaf == 7 && sub == 0) {
    /* EBX: AVX512 F, DQ, IFMA, PF, ER, CD, BW, VL. ECX: VBMI, VBMI2, VNNI, BITALG,
     * VPOPCNTDQ. EDX: 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, AVX512-FP16, AMX-TILE, AMX-INT8. */
    b &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31));
    c &= ~(BIT(1) | BIT(6) | BIT(11) | BIT(12) | BIT(14));
    d &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25));
  }
  if (leaf == 7 && sub == 1) a &= ~(BIT(4) | BIT(5)); /* AVX-VNNI, AVX512-BF16 */
  if (leaf == 0xd && sub == 0) a &= ~(BIT(5) | BIT(6) | BIT(7) | BIT(17) | BIT(18)); /* their state */
  r[REG_RAX] = a;
  r[REG_RBX] = b;
  r[REG_RCX] = c;
  r[REG_RDX] = d;
  r[REG_RIP] += 2; /* past the two-byte CPUID */
}

static void on_segv(int sig, siginfo_t* info, void* ctx) {
  ucontext_t* uc = (ucontext_t*)ctx;
  const unsigned char* ip = (const unsigned char*)uc->uc_mcontext.gregs[REG_RIP];
  if (ip[0] == 0x0f && ip[1] == 0xa2) {
    answer_cpuid(uc);
    return;
  }
  if ((program_segv.sa_flags & SA_SIGINFO) && program_segv.sa_sigaction) {
    program_segv.sa_sigaction(sig, info, ctx);
    return;
  }
  if (!(program_segv.sa_flags & SA_SIGINFO) && program_segv.sa_handler != SIG_DFL &&
      program_segv.sa_handler != SIG_IGN) {
    program_segv.sa_handler(sig);
    return;
  }
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  real_sigaction(SIGSEGV, &dfl, 0); /* returning re-runs the faulting instruction: a plain crash */
}

/* The program's SIGSEGV handler is recorded, not installed: ours stays. */
int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (!real_sigaction) real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  if (sig != SIGSEGV) return real_sigaction(sig, act, old);
  if (old) *old = program_segv;
  if (act) program_segv = *act;
  return 0;
}

__attribute__((constructor)) static void mask_cpuid(void) {
  real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  program_segv.sa_handler = SIG_DFL;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  real_sigaction(SIGSEGV, &sa, 0);
  /* Per thread, inherited by the threads and processes started after this. */
  syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
}
