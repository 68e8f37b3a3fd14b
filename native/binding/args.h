// Argument unpacking for the binding. Every entry point takes its arguments in the order
// of one table (arg_tables.h), read through its enum, so messages name each argument.
// lib/ validates everything first and writes the messages users normally see; these
// checks exist because the raw binding is reachable too, so they re-check whatever
// native code will read or write. A failed check throws a JS TypeError/RangeError (never
// aborts): better-sqlite3's REQUIRE_* style.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "arg_tables.h"
#include "common.h"

namespace na::binding {

[[noreturn]] inline void throw_type(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] inline void throw_range(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

template <typename T>
struct ArrayArg {
  T* data = nullptr;
  int64_t length = 0;
  Napi::Value value;  // the JS typed array, to keep alive during async work

  int64_t bytes() const { return length * int64_t(sizeof(T)); }
};

template <typename T>
constexpr napi_typedarray_type typed_array_kind();
template <>
constexpr napi_typedarray_type typed_array_kind<float>() {
  return napi_float32_array;
}
template <>
constexpr napi_typedarray_type typed_array_kind<uint8_t>() {
  return napi_uint8_array;
}
template <>
constexpr napi_typedarray_type typed_array_kind<int32_t>() {
  return napi_int32_array;
}
template <>
constexpr napi_typedarray_type typed_array_kind<double>() {
  return napi_float64_array;
}
template <typename T>
constexpr const char* typed_array_name();
template <>
constexpr const char* typed_array_name<float>() {
  return "a Float32Array";
}
template <>
constexpr const char* typed_array_name<uint8_t>() {
  return "a Uint8Array";
}
template <>
constexpr const char* typed_array_name<int32_t>() {
  return "an Int32Array";
}
template <>
constexpr const char* typed_array_name<double>() {
  return "a Float64Array";
}

// The largest dimension product the binding accepts for any one array: beyond this, a
// request is refused before any memory is allocated or touched. Exported to lib/ as
// limits.maxElements.
constexpr int64_t kMaxElements = int64_t(1) << 40;

// The arguments of one call, in the order of the table behind `Arg` (arg_tables.h).
// `what` prefixes every message (e.g. "forward: query: expected a Float32Array").
template <typename Arg>
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* what) : info_(info), env_(info.Env()), what_(what) {
    if (info.Length() != size_t(Arg::kCount))
      throw_type(env_, std::string(what) + ": expected " + std::to_string(size_t(Arg::kCount)) + " arguments (" +
                           list() + "), got " + std::to_string(info.Length()));
  }

  Napi::Env env() const { return env_; }
  Napi::Value get(Arg key) const { return info_[size_t(key)]; }

  [[noreturn]] void type_error(Arg key, const std::string& msg) const { throw_type(env_, name(key) + msg); }
  [[noreturn]] void range_error(Arg key, const std::string& msg) const { throw_range(env_, name(key) + msg); }

  // A size: an integral Number in [1, BLAS's int limit].
  int64_t dim(Arg key) const { return integer(key, 1, kBlasIntMax); }

  // An integral Number in [lo, hi].
  int64_t integer(Arg key, int64_t lo, int64_t hi) const { return integer_value(key, get(key), lo, hi); }
  int64_t integer_value(Arg key, Napi::Value v, int64_t lo, int64_t hi) const {
    if (!v.IsNumber()) type_error(key, "expected a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d) || d < double(lo) || d > double(hi))
      range_error(key, "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                           v.ToString().Utf8Value());
    return int64_t(d);
  }

  float finite_float(Arg key) const {
    Napi::Value v = get(key);
    if (!v.IsNumber()) type_error(key, "expected a number");
    const double d = v.As<Napi::Number>().DoubleValue();
    // Finite as a float32 too: 1e39 would become +inf once cast.
    if (!std::isfinite(d) || std::fabs(d) > 3.4028234663852886e38) range_error(key, "expected a finite float32 number");
    return float(d);
  }

  bool boolean(Arg key) const {
    Napi::Value v = get(key);
    if (!v.IsBoolean()) type_error(key, "expected a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  // A typed array of T with exactly `expected` elements (-1: any length). With
  // `nullable`, undefined/null give an empty ArrayArg.
  template <typename T>
  ArrayArg<T> typed_array(Arg key, int64_t expected, bool nullable = false) const {
    return typed_array_value<T>(key, get(key), expected, nullable);
  }
  template <typename T>
  ArrayArg<T> typed_array_value(Arg key, Napi::Value v, int64_t expected, bool nullable = false) const {
    ArrayArg<T> a;
    if (nullable && (v.IsUndefined() || v.IsNull())) return a;
    // One napi_get_typedarray_info call: type, length and the (already offset) data.
    napi_typedarray_type kind;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer;
    size_t byte_offset = 0;
    if (!v.IsTypedArray() ||
        napi_get_typedarray_info(env_, v, &kind, &length, &data, &buffer, &byte_offset) != napi_ok ||
        kind != typed_array_kind<T>())
      type_error(key, std::string("expected ") + typed_array_name<T>());
    bool detached = false;
    if (napi_is_detached_arraybuffer(env_, buffer, &detached) == napi_ok && detached)
      type_error(key, "its ArrayBuffer is detached");
    a.length = int64_t(length);
    a.data = static_cast<T*>(data);
    a.value = v;
    if (expected >= 0 && a.length != expected)
      range_error(key, "expected " + std::to_string(expected) + " elements, got " + std::to_string(a.length));
    if (a.length > 0 && !a.data) type_error(key, "has no backing memory");
    return a;
  }

  // The element count of an array of these dimensions, refused beyond kMaxElements.
  int64_t elements(Arg key, std::initializer_list<int64_t> dims) const {
    const int64_t p = checked_product(dims);
    if (p < 0 || p > kMaxElements) range_error(key, "size too large");
    return p;
  }

 private:
  std::string name(Arg key) const { return std::string(what_) + ": " + arg_names(Arg{})[size_t(key)] + ": "; }
  static std::string list() {
    std::string s;
    for (size_t i = 0; i < size_t(Arg::kCount); ++i) s += (i ? ", " : "") + std::string(arg_names(Arg{})[i]);
    return s;
  }

  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* what_;
};

// An output must not share memory with an input: compared by address, so views of one
// SharedArrayBuffer reached through different JS objects are caught too.
struct Region {
  const char* name;
  const void* data;
  int64_t bytes;
};
inline void require_disjoint(Napi::Env env, const Region& out, std::initializer_list<Region> inputs) {
  if (!out.data || out.bytes <= 0) return;
  const auto lo = reinterpret_cast<uintptr_t>(out.data), hi = lo + uintptr_t(out.bytes);
  for (const Region& in : inputs) {
    if (!in.data || in.bytes <= 0) continue;
    const auto a = reinterpret_cast<uintptr_t>(in.data), b = a + uintptr_t(in.bytes);
    if (lo < b && a < hi)
      throw_range(env, std::string(out.name) + ": expected memory not shared with " + in.name +
                           ", got an array overlapping " + in.name);
  }
}

// The T behind a JS object that T's constructor tagged with `tag` (napi_type_tag_object),
// or null for anything else: checked before unwrapping, since unwrapping an object that
// another class wrapped would give a pointer of the wrong type.
template <typename T>
T* unwrap_tagged(Napi::Env env, Napi::Value v, const napi_type_tag& tag) {
  bool tagged = false;
  if (!v.IsObject() || napi_check_object_type_tag(env, v, &tag, &tagged) != napi_ok || !tagged) return nullptr;
  return T::Unwrap(v.As<Napi::Object>());
}

inline void throw_status(Napi::Env env, Status s) {
  if (s == Status::Ok) return;
  if (s == Status::OutOfMemory) throw Napi::Error::New(env, status_message(s));
  throw_range(env, status_message(s));
}

}  // namespace na::binding
