// AttentionCache: the JS object behind lib/'s class of the same name, owning a layer's
// key/value cache (kv_cache.h) and how much of each row is filled.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "kv_cache.h"

namespace na::binding {

// Everything but the memory is touched only on the JS thread. An async call appending to
// the cache holds a reference (so the memory outlives a collected JS object) and marks it
// busy until it settles; the filled lengths change only when a call succeeds.
struct CacheState {
  std::unique_ptr<KvCache> kv;
  uint64_t layer_id = 0;         // the layer that made it (its keys are that layer's)
  std::vector<int32_t> lengths;  // [batch] tokens held per row
  bool busy = false;             // an async call in flight appends to it
  // A sync call's per-segment arguments, sized [batch] once so that calls allocate nothing.
  std::vector<int32_t> rows, counts, past;
  std::vector<uint8_t> seen;
};

// What a cache needs to know of the layer that makes it.
struct CacheShape {
  uint64_t layer_id;
  int64_t heads, key_dim, value_dim;
};

// The layer object `v`'s shape, or a TypeError naming `what` when `v` is not a layer.
CacheShape layer_cache_shape(Napi::Env env, Napi::Value v, const std::string& what);

// Throws when an async call is still appending to the cache; the message is `prefix`
// (naming the entry point) followed by the rule.
void require_idle(Napi::Env env, const CacheState& c, const std::string& prefix);

// The state behind the AttentionCache object `v`, or null when `v` is not one.
std::shared_ptr<CacheState> cache_state(Napi::Env env, Napi::Value v);

Napi::Function define_attention_cache(Napi::Env env);

}  // namespace na::binding
