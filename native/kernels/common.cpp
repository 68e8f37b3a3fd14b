#include "common.h"

namespace na {

const char* status_message(Status s) {
  switch (s) {
    case Status::Ok: return "ok";
    case Status::InvalidArgument: return "invalid argument: sizes, strides or lengths do not fit the shapes";
    case Status::TooLarge: return "problem too large: a dimension product exceeds the 32-bit BLAS limit";
    case Status::OutOfMemory: return "could not allocate the workspace";
  }
  return "unknown status";
}

}  // namespace na
