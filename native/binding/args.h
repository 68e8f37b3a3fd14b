// Argument unpacking for the binding. lib/ validates everything first and writes the
// messages users normally see; these checks exist because the raw binding is reachable
// too, so they re-check whatever native code will read or write. A failed check throws a
// JS TypeError/RangeError (never aborts): better-sqlite3's REQUIRE_* style.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "common.h"

namespace na::binding {

[[noreturn]] inline void throw_type(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }
[[noreturn]] inline void throw_range(Napi::Env env, const std::string& msg) { throw Napi::RangeError::New(env, msg); }

template <typename T>
struct ArrayArg {
  T* data = nullptr;
  int64_t length = 0;
  Napi::Value value;  // the JS typed array, to keep alive during async work
};

template <typename T> constexpr napi_typedarray_type typed_array_kind();
template <> constexpr napi_typedarray_type typed_array_kind<float>() { return napi_float32_array; }
template <> constexpr napi_typedarray_type typed_array_kind<uint8_t>() { return napi_uint8_array; }
template <> constexpr napi_typedarray_type typed_array_kind<int32_t>() { return napi_int32_array; }
template <typename T> constexpr const char* typed_array_name();
template <> constexpr const char* typed_array_name<float>() { return "Float32Array"; }
template <> constexpr const char* typed_array_name<uint8_t>() { return "Uint8Array"; }
template <> constexpr const char* typed_array_name<int32_t>() { return "Int32Array"; }

// A typed array of T with exactly `expected` elements (-1: any length).
// With `nullable`, undefined/null give an empty ArrayArg.
template <typename T>
ArrayArg<T> typed_array(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t expected,
                        bool nullable = false) {
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  ArrayArg<T> a;
  if (nullable && (v.IsUndefined() || v.IsNull())) return a;
  // One napi_get_typedarray_info call: type, length and the (already offset) data.
  napi_typedarray_type kind;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  if (!v.IsTypedArray() ||
      napi_get_typedarray_info(env, v, &kind, &length, &data, &buffer, &byte_offset) != napi_ok ||
      kind != typed_array_kind<T>())
    throw_type(env, std::string(name) + ": expected a " + typed_array_name<T>());
  bool detached = false;
  if (napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached)
    throw_type(env, std::string(name) + ": its ArrayBuffer is detached");
  a.length = int64_t(length);
  a.data = static_cast<T*>(data);
  a.value = v;
  if (expected >= 0 && a.length != expected)
    throw_range(env, std::string(name) + ": expected " + std::to_string(expected) + " elements, got " +
                         std::to_string(a.length));
  if (a.length > 0 && !a.data) throw_type(env, std::string(name) + ": has no backing memory");
  return a;
}

// An integral Number in [lo, hi].
inline int64_t integer(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi) {
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw_type(env, std::string(name) + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < double(lo) || d > double(hi))
    throw_range(env, std::string(name) + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                         "], got " + v.ToString().Utf8Value());
  return int64_t(d);
}

inline float finite_float(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) throw_type(info.Env(), std::string(name) + ": expected a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  // Finite as a float32 too: 1e39 would become +inf once cast.
  if (!std::isfinite(d) || std::fabs(d) > 3.4028234663852886e38)
    throw_range(info.Env(), std::string(name) + ": expected a finite float32 number");
  return float(d);
}

inline bool boolean(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBoolean()) throw_type(info.Env(), std::string(name) + ": expected a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

// The largest dimension product the binding accepts for any one array: beyond this,
// a request is refused before any memory is allocated or touched.
constexpr int64_t kMaxElements = int64_t(1) << 40;

inline int64_t product_or_throw(Napi::Env env, std::initializer_list<int64_t> f, const char* what) {
  const int64_t p = checked_product(f);
  if (p < 0 || p > kMaxElements) throw_range(env, std::string(what) + ": size too large");
  return p;
}

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
      throw_range(env, std::string(out.name) + ": expected memory not shared with " + in.name + ", got an array overlapping " + in.name);
  }
}

inline void throw_status(Napi::Env env, Status s) {
  if (s == Status::Ok) return;
  if (s == Status::OutOfMemory) throw Napi::Error::New(env, status_message(s));
  throw_range(env, status_message(s));
}

}  // namespace na::binding
