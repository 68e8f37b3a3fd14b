// The native tests' one assertion: CHECK(cond, printf-style message) counts a failure
// and prints it; test_exit() prints the tally and gives the process's exit code;
// requested_isa_missing() lets a per-instruction-set test skip a path the CPU lacks.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace na_test {
inline int failures = 0;
inline int test_exit(const char* name) {
  std::printf("%s: %s, %d failure(s)\n", name, failures ? "FAILED" : "passed", failures);
  return failures ? 1 : 0;
}
// For tests that ctest runs once per instruction set (NATIVE_ATTENTION_ISA): prints the
// path in use and returns true when the requested one is not it (this CPU or build lacks
// it), in which case the test reports a skip and passes.
inline bool requested_isa_missing(const char* active) {
  const char* want = std::getenv("NATIVE_ATTENTION_ISA");
  std::printf("isa: %s (requested %s)\n", active, want ? want : "-");
  if (want && *want && std::strcmp(want, active) != 0) {
    std::printf("SKIP: this CPU or build has no %s path\n", want);
    return true;
  }
  return false;
}
}  // namespace na_test

#define CHECK(cond, ...)                               \
  do {                                                 \
    if (!(cond)) {                                     \
      ++na_test::failures;                             \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      std::printf(__VA_ARGS__);                        \
      std::printf("\n");                               \
    }                                                  \
  } while (0)
