// Shared vocabulary of the kernels: status codes, checked arithmetic, a non-owning
// callable reference. Plain C++17; nothing here knows about Node.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace na {

enum class Status {
  Ok = 0,
  InvalidArgument,  // a size, stride or length that does not fit the shapes
  TooLarge,         // a product beyond BLAS's 32-bit int or the address space
  OutOfMemory,      // workspace could not be allocated
};

const char* status_message(Status s);

// BLAS takes int (LP64 interface): every M, N, K and leading dimension must fit.
constexpr int64_t kBlasIntMax = 2147483647;

// a * b into *out; false on signed 64-bit overflow.
inline bool checked_mul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool checked_add(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

// Product of n non-negative factors, or -1 when it overflows int64.
inline int64_t checked_product(std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors) {
    if (f < 0 || !checked_mul(p, f, &p)) return -1;
  }
  return p;
}

// A multiply-add count computed in double (it may exceed int64 for absurd shapes that
// are refused later), saturated into int64 for the threading policy.
inline int64_t saturating_macs(double macs) { return macs > 9e18 ? int64_t(9e18) : int64_t(macs); }

// A non-owning reference to a callable: lets the hot path hand lambdas to the pool
// without std::function's possible heap allocation.
template <typename Sig>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit by design, like std::function
      : obj_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* o, Args... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(a)...);
        }) {}
  R operator()(Args... a) const { return call_(obj_, std::forward<Args>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

}  // namespace na
