#include "cache.h"

#include <string>

#include "args.h"
#include "fault_injection.h"

namespace na::binding {

namespace {

// Marks AttentionCache objects, so that a forward call can tell one from any other object
// before unwrapping it (napi_type_tag_object).
constexpr napi_type_tag kCacheTag = {0x6e61636163686531ULL, 0x8f3b2c7d1e9a4f60ULL};

class AttentionCache : public Napi::ObjectWrap<AttentionCache> {
 public:
  explicit AttentionCache(const Napi::CallbackInfo& info);
  ~AttentionCache() override;

  // getLengths(out: Int32Array [batch])
  Napi::Value GetLengths(const Napi::CallbackInfo& info);
  // truncate(lengths: Int32Array [batch]): each at most the row's current length.
  Napi::Value Truncate(const Napi::CallbackInfo& info);
  Napi::Value ByteLength(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), double(state_->kv->bytes()));
  }
  Napi::Value Busy(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), state_->busy); }

  const std::shared_ptr<CacheState>& state() const { return state_; }

 private:
  std::shared_ptr<CacheState> state_;
  int64_t accounted_ = 0;  // bytes reported to V8 as external memory
};

// new AttentionCache(...NA_CACHE_ARGS)
AttentionCache::AttentionCache(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AttentionCache>(info) {
  using A = CacheArg;
  const Args<A> a(info, "AttentionCache");
  const CacheShape shape = layer_cache_shape(a.env(), a.get(A::layer), "AttentionCache: layer");
  const int64_t batch = a.integer(A::batch, 1, kBlasIntMax);
  const int64_t max_length = a.integer(A::maxLength, 1, kBlasIntMax);
  const int64_t floats = checked_product({batch, shape.heads, max_length, shape.key_dim + shape.value_dim});
  if (floats < 0 || floats > kMaxElements)
    a.range_error(A::maxLength, "a cache of batch × numKvHeads × maxLength × (keyDim + valueDim) = " +
                                    (floats < 0 ? std::string("more than 2^63") : std::to_string(floats)) +
                                    " floats is beyond the limit of " + std::to_string(kMaxElements));
  try {
    fault::check_alloc();
    auto s = std::make_shared<CacheState>();
    s->kv = KvCache::create(batch, shape.heads, max_length, shape.key_dim, shape.value_dim);
    if (!s->kv) throw std::bad_alloc();
    s->layer_id = shape.layer_id;
    for (auto* v : {&s->lengths, &s->rows, &s->counts, &s->past}) v->assign(size_t(batch), 0);
    s->seen.assign(size_t(batch), 0);
    state_ = std::move(s);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(a.env(), "AttentionCache: could not allocate " +
                                        std::to_string(floats * int64_t(sizeof(float))) + " bytes of keys and values");
  }
  napi_type_tag_object(a.env(), info.This(), &kCacheTag);
  // The memory is V8's to know of: a program that drops caches should see them collected.
  accounted_ = state_->kv->bytes();
  Napi::MemoryManagement::AdjustExternalMemory(a.env(), accounted_);
}

AttentionCache::~AttentionCache() {
  if (accounted_ > 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -accounted_);
}

Napi::Value AttentionCache::GetLengths(const Napi::CallbackInfo& info) {
  using A = CacheLengthsArg;
  const Args<A> a(info, "getLengths");
  auto out = a.typed_array<int32_t>(A::lengths, int64_t(state_->lengths.size()));
  std::copy(state_->lengths.begin(), state_->lengths.end(), out.data);
  return a.env().Undefined();
}

Napi::Value AttentionCache::Truncate(const Napi::CallbackInfo& info) {
  using A = CacheLengthsArg;
  const Args<A> a(info, "truncate");
  auto in = a.typed_array<int32_t>(A::lengths, int64_t(state_->lengths.size()));
  require_idle(a.env(), *state_, "truncate: the cache is ");
  for (int64_t b = 0; b < in.length; ++b)
    if (in.data[b] < 0 || in.data[b] > state_->lengths[size_t(b)])
      a.range_error(A::lengths, "entry " + std::to_string(b) + ": expected an integer in [0, " +
                                    std::to_string(state_->lengths[size_t(b)]) + "] (the row's length), got " +
                                    std::to_string(in.data[b]));
  std::copy(in.data, in.data + in.length, state_->lengths.begin());
  return a.env().Undefined();
}

}  // namespace

void require_idle(Napi::Env env, const CacheState& c, const std::string& prefix) {
  if (c.busy) throw Napi::Error::New(env, prefix + "in use by an async call still in flight; await it first");
}

std::shared_ptr<CacheState> cache_state(Napi::Env env, Napi::Value v) {
  AttentionCache* c = unwrap_tagged<AttentionCache>(env, v, kCacheTag);
  return c ? c->state() : nullptr;
}

Napi::Function define_attention_cache(Napi::Env env) {
  using C = AttentionCache;
  return C::DefineClass(env, "AttentionCache",
                        {
                            C::InstanceMethod<&C::GetLengths>("getLengths"),
                            C::InstanceMethod<&C::Truncate>("truncate"),
                            C::InstanceMethod<&C::ByteLength>("byteLength"),
                            C::InstanceMethod<&C::Busy>("busy"),
                        });
}

}  // namespace na::binding
