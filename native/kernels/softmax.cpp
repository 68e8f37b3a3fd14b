// The softmax row is compiled once per instruction set (flash_attention_body.inc, included by
// flash_attention_{generic,avx2,avx512}.cpp) and picked from the kernel table at run time.
#include "softmax.h"

#include "cpu_features.h"

namespace na {

void masked_softmax_row(float* s, int limit, int width, const MaskRow& mask) {
  kernels().softmax_row(s, limit, width, mask);
}

}  // namespace na
