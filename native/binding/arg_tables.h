// The argument lists of the native entry points, in call order: the one definition of
// each. The module exports them (argNames), lib/binding.ts packs its named argument
// objects (typed in binding.d.ts) into this order, and the binding reads info[i] through
// the enums below. Measured against reading the same object by name in C++ (one
// napi_get_named_property per field, which builds and internalises a key string each
// time): T0's per-call time 3.4 vs 2.0 µs (bench/NOTES.md).
//
// Adding an option: one X() entry here, its read in the entry point, its field in
// binding.d.ts, and the value lib/ puts there (test/unit/binding-args.test.ts checks that
// the TypeScript and C++ lists agree).
#pragma once
#include <cstddef>

namespace na::binding {

// Laid out by hand: clang-format is not idempotent on these lists (a pass reflows what the
// next one undoes).
// clang-format off
#define NA_ATTENTION_ARGS(X) X(mask) X(maskStrides) X(causal) X(keyLengths) X(out) X(weightsOut)
#define NA_LAYER_ARGS(X)                                                                            \
  X(embedDim) X(numHeads) X(numKvHeads) X(keyDim) X(valueDim) X(kdim) X(vdim) X(outputDim)         \
  X(useBias) X(scale) X(rotaryDim) X(rotaryInterleaved) X(rotaryInvFreq) X(slidingWindow)
#define NA_FORWARD_ARGS(X)                                                                          \
  X(query) X(key) X(value) X(batch) X(queryLength) X(keyLength) X(sequenceLengths) X(cache)        \
  X(cacheRows) NA_ATTENTION_ARGS(X)
#define NA_SDPA_ARGS(X)                                                                             \
  X(q) X(k) X(v) X(batch) X(heads) X(queryLength) X(keyLength) X(keyDim) X(valueDim) X(scale)      \
  NA_ATTENTION_ARGS(X)
// clang-format on
#define NA_MATMUL_ARGS(X) X(a) X(b) X(out) X(M) X(N) X(K)
#define NA_SET_WEIGHT_ARGS(X) X(name) X(data)
#define NA_GET_WEIGHT_ARGS(X) X(name) X(out)
#define NA_CACHE_ARGS(X) X(layer) X(batch) X(maxLength)
#define NA_CACHE_LENGTHS_ARGS(X) X(lengths)

// Each list becomes an enum (the index of each argument) and its names, found through
// arg_names(Enum{}) so that shared readers can be templates over the enum.
#define NA_ARG_ENUM(n) n,
#define NA_ARG_NAME(n) #n,
#define NA_ARG_TABLE(Enum, LIST, js)                        \
  enum class Enum : size_t { LIST(NA_ARG_ENUM) kCount };    \
  inline const char* const* arg_names(Enum) {               \
    static const char* const names[] = {LIST(NA_ARG_NAME)}; \
    return names;                                           \
  }                                                         \
  inline const char* entry_name(Enum) { return js; }

NA_ARG_TABLE(LayerArg, NA_LAYER_ARGS, "layer")
NA_ARG_TABLE(ForwardArg, NA_FORWARD_ARGS, "forward")
NA_ARG_TABLE(SdpaArg, NA_SDPA_ARGS, "sdpa")
NA_ARG_TABLE(MatmulArg, NA_MATMUL_ARGS, "matmul")
NA_ARG_TABLE(SetWeightArg, NA_SET_WEIGHT_ARGS, "setWeight")
NA_ARG_TABLE(GetWeightArg, NA_GET_WEIGHT_ARGS, "getWeight")
NA_ARG_TABLE(CacheArg, NA_CACHE_ARGS, "cache")
NA_ARG_TABLE(CacheLengthsArg, NA_CACHE_LENGTHS_ARGS, "cacheLengths")

#undef NA_ARG_TABLE
#undef NA_ARG_NAME
#undef NA_ARG_ENUM

}  // namespace na::binding
