// The native tests' one assertion: CHECK(cond, printf-style message) counts a failure
// and prints it; test_exit() prints the tally and gives the process's exit code.
#pragma once
#include <cstdio>

namespace na_test {
inline int failures = 0;
inline int test_exit(const char* name) {
  std::printf("%s: %s, %d failure(s)\n", name, failures ? "FAILED" : "passed", failures);
  return failures ? 1 : 0;
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
