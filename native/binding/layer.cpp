// MultiHeadAttention: the native half of lib/'s class of the same name. Owns a copy of
// the weights (so JS cannot change them under a running call) and runs the forward pass.
#include <atomic>
#include <cmath>
#include <memory>
#include <string>

#include "async_call.h"
#include "attention_args.h"
#include "cache.h"
#include "entry_points.h"
#include "mha.h"

namespace na::binding {

namespace {

// One forward call as plain data: safe to copy into an async worker.
struct ForwardCall {
  std::shared_ptr<const MhaWeights> weights;
  MhaInputs in;
  AttentionParams params;
  float* out;
  int64_t macs;
  Status operator()(const Lease& lease) const { return mha_forward(lease, *weights, in, params, out); }
};

// One call appending to a key/value cache, as plain data. The per-segment arrays point at
// the cache's scratch (sync) or at the call's copies (async).
struct CachedForwardCall {
  std::shared_ptr<const MhaWeights> weights;
  std::shared_ptr<CacheState> cache;
  CachedInputs in;
  AttentionParams params;
  float* out;
  int64_t macs;
  Status operator()(const Lease& lease) const {
    return mha_forward_cached(lease, *weights, *cache->kv, in, params, out);
  }
  // JS thread: the rows' new lengths take effect only when the call succeeded.
  void settled(bool ok) noexcept {
    if (ok)
      for (int64_t s = 0; s < in.segments; ++s) cache->lengths[size_t(in.cache_rows[s])] = in.past[s] + in.lengths[s];
    cache->busy = false;
  }
};

// Marks MultiHeadAttention objects (napi_type_tag_object), so that AttentionCache can
// check what it is given before unwrapping it.
constexpr napi_type_tag kLayerTag = {0x6e616d6861316c61ULL, 0x2d71c4e08b5a9f13ULL};

class MultiHeadAttention : public Napi::ObjectWrap<MultiHeadAttention> {
 public:
  explicit MultiHeadAttention(const Napi::CallbackInfo& info);

  Napi::Value SetWeight(const Napi::CallbackInfo& info);
  Napi::Value GetWeight(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info) { return forward(info, false); }
  Napi::Value ForwardAsync(const Napi::CallbackInfo& info) { return forward(info, true); }

 public:
  const MhaDims& dims() const { return weights_->dims(); }
  uint64_t id() const { return id_; }

 private:
  Napi::Value forward(const Napi::CallbackInfo& info, bool async);
  Napi::Value forward_cached(const Args<ForwardArg>& a, bool async, Napi::Value cache);
  template <typename A>
  MhaWeights::Name weight_arg(const Args<A>& a, MhaWeights::Slot* slot) const;
  // Shared with in-flight async calls; copied on write while one holds it.
  std::shared_ptr<MhaWeights> weights_;
  float scale_ = 1.0f;
  int64_t window_ = 0;  // sliding window (0: none)
  uint64_t id_;         // tells its caches from other layers'
};

std::atomic<uint64_t> next_layer_id{1};

// new MultiHeadAttention(...NA_LAYER_ARGS)
MultiHeadAttention::MultiHeadAttention(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<MultiHeadAttention>(info), id_(next_layer_id++) {
  using A = LayerArg;
  const Args<A> a(info, "MultiHeadAttention");
  MhaDims d;
  d.E = a.dim(A::embedDim);
  d.H = a.dim(A::numHeads);
  d.Hkv = a.dim(A::numKvHeads);
  if (d.H % d.Hkv != 0) a.range_error(A::numKvHeads, "expected a divisor of numHeads (" + std::to_string(d.H) + ")");
  d.Dk = a.dim(A::keyDim);
  d.Dv = a.dim(A::valueDim);
  d.Ek = a.dim(A::kdim);
  d.Ev = a.dim(A::vdim);
  d.Eo = a.dim(A::outputDim);
  d.bias = a.boolean(A::useBias);
  scale_ = a.finite_float(A::scale);
  throw_status(a.env(), mha_check_dims(d));
  Rotary rot;
  rot.dim = a.integer(A::rotaryDim, 0, d.Dk);
  if (rot.dim % 2 != 0) a.range_error(A::rotaryDim, "expected an even number (features rotate in pairs)");
  rot.interleaved = a.boolean(A::rotaryInterleaved);
  auto freq = a.typed_array<double>(A::rotaryInvFreq, rot.dim / 2, rot.dim == 0);
  for (int64_t i = 0; i < freq.length; ++i)
    if (!std::isfinite(freq.data[i]))
      a.range_error(A::rotaryInvFreq, "entry " + std::to_string(i) + ": expected a finite number");
  window_ = a.integer(A::slidingWindow, 0, kBlasIntMax);
  if (window_ > 0 && (d.E != d.Ek || d.E != d.Ev))
    a.range_error(A::slidingWindow, "expected 0: a sliding window needs self-attention (kdim = vdim = embedDim)");
  try {
    fault::check_alloc();
    rot.inv_freq.assign(freq.data, freq.data + freq.length);
    weights_ = std::make_shared<MhaWeights>(d, std::move(rot));
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(a.env(), "MultiHeadAttention: could not allocate the weights");
  }
  throw_status(a.env(), mha_check_rotary(d, weights_->rotary()));
  napi_type_tag_object(a.env(), info.This(), &kLayerTag);
}

// `name` is one of wq, bq, wk, bk, wv, bv, wo, bo; *slot receives its shape. A layer
// without bias has no b*.
template <typename A>
MhaWeights::Name MultiHeadAttention::weight_arg(const Args<A>& a, MhaWeights::Slot* slot) const {
  static const char* const kNames[MhaWeights::kCount] = {"wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo"};
  Napi::Value v = a.get(A::name);
  const std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  for (int i = 0; i < MhaWeights::kCount; ++i) {
    if (name != kNames[i]) continue;
    *slot = weights_->slot(MhaWeights::Name(i));
    if (!slot->data) a.range_error(A::name, "this layer has no bias (useBias: false)");
    return MhaWeights::Name(i);
  }
  a.type_error(A::name, "expected one of wq, bq, wk, bk, wv, bv, wo, bo");
}

// setWeight(name, data)
Napi::Value MultiHeadAttention::SetWeight(const Napi::CallbackInfo& info) {
  using A = SetWeightArg;
  const Args<A> a(info, "setWeight");
  MhaWeights::Slot s;
  const auto name = weight_arg(a, &s);
  auto src = a.typed_array<float>(A::data, s.rows * s.cols);
  try {
    // Copy on write: an async call in flight keeps computing with the weights it started with.
    if (weights_.use_count() > 1) {
      fault::check_alloc();
      weights_ = std::make_shared<MhaWeights>(*weights_);
    }
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(a.env(), "setWeight: could not allocate a copy of the weights");
  }
  weights_->write(name, src.data);
  return a.env().Undefined();
}

// getWeight(name, out)
Napi::Value MultiHeadAttention::GetWeight(const Napi::CallbackInfo& info) {
  using A = GetWeightArg;
  const Args<A> a(info, "getWeight");
  MhaWeights::Slot s;
  const auto name = weight_arg(a, &s);
  auto dst = a.typed_array<float>(A::out, s.rows * s.cols);
  weights_->read(name, dst.data);
  return a.env().Undefined();
}

// forward(...NA_FORWARD_ARGS) and forwardAsync(the same).
Napi::Value MultiHeadAttention::forward(const Napi::CallbackInfo& info, bool async) {
  using A = ForwardArg;
  const Args<A> a(info, async ? "forwardAsync" : "forward");
  const Napi::Value cache = a.get(A::cache);
  if (!cache.IsNull() && !cache.IsUndefined()) return forward_cached(a, async, cache);
  if (!a.get(A::cacheRows).IsNull() && !a.get(A::cacheRows).IsUndefined())
    a.type_error(A::cacheRows, "expected null without a cache");
  const MhaDims& d = weights_->dims();
  ForwardCall call;
  MhaInputs& in = call.in;
  in.B = a.dim(A::batch);
  in.Lq = a.dim(A::queryLength);
  in.Lk = a.dim(A::keyLength);
  auto q = a.typed_array<float>(A::query, a.elements(A::query, {in.B, in.Lq, d.E}));
  auto k = a.typed_array<float>(A::key, a.elements(A::key, {in.B, in.Lk, d.Ek}));
  auto v = a.typed_array<float>(A::value, a.elements(A::value, {in.B, in.Lk, d.Ev}));
  in.query = q.data;
  in.key = k.data;
  in.value = v.data;
  const AttentionShape shape{in.B, d.H, in.Lq, in.Lk, d.Dk, d.Dv};
  const AttentionArgs att =
      read_attention_args(a, shape, a.elements(A::out, {in.B, in.Lq, d.Eo}),
                          {{"query", q.data, q.bytes()}, {"key", k.data, k.bytes()}, {"value", v.data, v.bytes()}});
  if (att.weights_out.data && d.Hkv != d.H)
    a.range_error(A::weightsOut, "expected null: a grouped-query layer (numKvHeads < numHeads) gives no probabilities");
  auto seq = a.typed_array<int32_t>(A::sequenceLengths, -1, true);
  if (!seq.value.IsEmpty()) {  // given (possibly empty, which is refused below)
    if (in.B != 1 || in.Lq != in.Lk || seq.length < 1 || att.params.key_lengths || att.params.weights)
      a.range_error(A::sequenceLengths,
                    "expected one packed row (batch 1, key = query rows) without keyLengths or weightsOut");
    int64_t total = 0;
    for (int64_t i = 0; i < seq.length; ++i) {
      if (seq.data[i] < 1)
        a.range_error(A::sequenceLengths, "entry " + std::to_string(i) + ": expected a positive length");
      total += seq.data[i];
    }
    if (total != in.Lq)
      a.range_error(A::sequenceLengths,
                    "expected lengths summing to " + std::to_string(in.Lq) + ", got " + std::to_string(total));
    require_disjoint(a.env(), {"out", att.out.data, att.out.bytes()}, {{"sequenceLengths", seq.data, seq.bytes()}});
    in.sequence_lengths = seq.data;
    in.sequences = seq.length;
  }
  if (window_ > 0 && !att.params.causal)
    a.range_error(A::causal, "expected true: this layer has a sliding window, which attends causally");
  call.weights = weights_;
  call.params = att.params;
  call.params.scale = scale_;
  call.params.window = window_;
  call.out = att.out.data;
  call.macs = mha_macs(d, in.B, in.Lq, in.Lk);
  return run_call(a.env(), call, async, [&](ForwardCall& c, AsyncBuffers& buffers) {
    c.in.query = buffers.input(q.data, size_t(q.length));
    c.in.key = buffers.input(k.data, size_t(k.length));
    c.in.value = buffers.input(v.data, size_t(v.length));
    c.in.sequence_lengths = buffers.input(seq.data, size_t(seq.length));
    c.out = own_attention_args(att, &c.params, buffers);
  });
}

// forward(...NA_FORWARD_ARGS) with a cache: query [B, T, E] appends T tokens to each of B
// cache rows, or an unbatched [T, E] with sequenceLengths appends each sequence to its
// row; cacheRows maps the call's rows (or sequences) to cache rows (default: all rows, in
// order). key and value are the query (self-attention); no mask, keyLengths or weights.
Napi::Value MultiHeadAttention::forward_cached(const Args<ForwardArg>& a, bool async, Napi::Value cache_value) {
  using A = ForwardArg;
  const MhaDims& d = weights_->dims();
  std::shared_ptr<CacheState> cache = cache_state(a.env(), cache_value);
  if (!cache) a.type_error(A::cache, "expected an AttentionCache (from createCache) or null");
  if (cache->layer_id != id_) a.range_error(A::cache, "expected a cache created by this layer (createCache)");
  require_idle(a.env(), *cache, std::string(async ? "forwardAsync" : "forward") + ": cache: ");
  if (d.E != d.Ek || d.E != d.Ev) a.range_error(A::cache, "expected null: a cache needs kdim = vdim = embedDim");
  const int64_t B = a.dim(A::batch), T = a.dim(A::queryLength);
  if (a.dim(A::keyLength) != T) a.range_error(A::keyLength, "expected the query's length with a cache");
  auto x = a.typed_array<float>(A::query, a.elements(A::query, {B, T, d.E}));
  for (A k : {A::key, A::value}) {
    auto other = a.typed_array<float>(k, x.length);
    if (other.data != x.data) a.range_error(k, "expected the query itself with a cache (self-attention)");
  }
  const AttentionShape shape{B, d.H, T, T, d.Dk, d.Dv};
  const AttentionArgs att =
      read_attention_args(a, shape, a.elements(A::out, {B, T, d.Eo}), {{"query", x.data, x.bytes()}});
  if (att.params.mask.kind != MaskKind::None || att.params.key_lengths || att.weights_out.data)
    a.range_error(A::cache, "expected no mask, keyLengths or weightsOut with a cache");

  // Segments: each sequence of a packed row, or each batch row.
  const int64_t batch = cache->kv->batch(), max_length = cache->kv->max_length();
  auto seq = a.typed_array<int32_t>(A::sequenceLengths, -1, true);
  int64_t segments = B;
  if (!seq.value.IsEmpty()) {
    if (B != 1) a.range_error(A::sequenceLengths, "expected one packed row (batch 1)");
    segments = seq.length;
  }
  auto rows = a.typed_array<int32_t>(A::cacheRows, -1, true);
  if (!rows.value.IsEmpty() && rows.length != segments)
    a.range_error(A::cacheRows, "expected " + std::to_string(segments) + " entries (one per " +
                                    (seq.value.IsEmpty() ? "batch row" : "sequence") + "), got " +
                                    std::to_string(rows.length));
  if (rows.value.IsEmpty() && segments != batch)
    a.range_error(A::cacheRows, "expected cacheRows: the call has " + std::to_string(segments) +
                                    (seq.value.IsEmpty() ? " rows" : " sequences") + " and the cache " +
                                    std::to_string(batch) + " (without cacheRows they must match)");
  if (segments < 1 || segments > batch)
    a.range_error(A::cacheRows,
                  "expected between 1 and " + std::to_string(batch) + " cache rows, got " + std::to_string(segments));
  int64_t total = 0;
  {
    // Rows marked as taken by this call; the marks are cleared however the checks end.
    struct Marks {
      CacheState& c;
      int64_t n = 0;
      ~Marks() {
        for (int64_t i = 0; i < n; ++i) c.seen[size_t(c.rows[size_t(i)])] = 0;
      }
    } marks{*cache};
    for (int64_t s = 0; s < segments; ++s) {
      const int32_t row = rows.value.IsEmpty() ? int32_t(s) : rows.data[s];
      if (row < 0 || row >= batch)
        a.range_error(A::cacheRows, "entry " + std::to_string(s) + ": expected an integer in [0, " +
                                        std::to_string(batch - 1) + "], got " + std::to_string(row));
      if (cache->seen[size_t(row)])
        a.range_error(A::cacheRows, "entry " + std::to_string(s) + ": row " + std::to_string(row) +
                                        " appears twice (each cache row at most once per call)");
      cache->seen[size_t(row)] = 1;
      cache->rows[size_t(marks.n++)] = row;
      const int32_t n = seq.value.IsEmpty() ? int32_t(T) : seq.data[s];
      const int32_t past = cache->lengths[size_t(row)];
      if (n < 1) a.range_error(A::sequenceLengths, "entry " + std::to_string(s) + ": expected a positive length");
      if (int64_t(past) + n > max_length)
        a.range_error(A::cache, "row " + std::to_string(row) + " holds " + std::to_string(past) +
                                    " tokens: appending " + std::to_string(n) + " would pass maxLength " +
                                    std::to_string(max_length));
      cache->counts[size_t(s)] = n;
      cache->past[size_t(s)] = past;
      total += n;
    }
  }
  if (total != B * T)
    a.range_error(A::sequenceLengths,
                  "expected lengths summing to " + std::to_string(B * T) + ", got " + std::to_string(total));
  if (seq.data)
    require_disjoint(a.env(), {"out", att.out.data, att.out.bytes()}, {{"sequenceLengths", seq.data, seq.bytes()}});
  if (rows.data)
    require_disjoint(a.env(), {"out", att.out.data, att.out.bytes()}, {{"cacheRows", rows.data, rows.bytes()}});

  CachedForwardCall call;
  call.weights = weights_;
  call.cache = cache;
  call.in = {x.data, B * T, segments, cache->counts.data(), cache->rows.data(), cache->past.data()};
  call.params.scale = scale_;
  call.params.window = window_;
  call.out = att.out.data;
  call.macs = mha_cached_macs(d, call.in);
  return run_call(a.env(), call, async, [&](CachedForwardCall& c, AsyncBuffers& buffers) {
    c.in.x = buffers.input(x.data, size_t(x.length));
    c.in.lengths = buffers.input(c.in.lengths, size_t(segments));
    c.in.cache_rows = buffers.input(c.in.cache_rows, size_t(segments));
    c.in.past = buffers.input(c.in.past, size_t(segments));
    c.out = buffers.output(att.out.value, "out", size_t(att.out.length));
    c.cache->busy = true;
  });
}

}  // namespace

CacheShape layer_cache_shape(Napi::Env env, Napi::Value v, const std::string& what) {
  const MultiHeadAttention* layer = unwrap_tagged<MultiHeadAttention>(env, v, kLayerTag);
  if (!layer) throw_type(env, what + ": expected a MultiHeadAttention");
  const MhaDims& d = layer->dims();
  return {layer->id(), d.Hkv, d.Dk, d.Dv};
}

Napi::Function define_multi_head_attention(Napi::Env env) {
  using C = MultiHeadAttention;
  return C::DefineClass(env, "MultiHeadAttention",
                        {
                            C::InstanceMethod<&C::SetWeight>("setWeight"),
                            C::InstanceMethod<&C::GetWeight>("getWeight"),
                            C::InstanceMethod<&C::Forward>("forward"),
                            C::InstanceMethod<&C::ForwardAsync>("forwardAsync"),
                        });
}

}  // namespace na::binding
