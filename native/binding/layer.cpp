// MultiHeadAttention: the native half of lib/'s class of the same name. Owns a copy of
// the weights (so JS cannot change them under a running call) and runs the forward pass.
#include <memory>

#include "async_call.h"
#include "attention_args.h"
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

class MultiHeadAttention : public Napi::ObjectWrap<MultiHeadAttention> {
 public:
  explicit MultiHeadAttention(const Napi::CallbackInfo& info);

  Napi::Value SetWeight(const Napi::CallbackInfo& info);
  Napi::Value GetWeight(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info) { return forward(info, false); }
  Napi::Value ForwardAsync(const Napi::CallbackInfo& info) { return forward(info, true); }

 private:
  Napi::Value forward(const Napi::CallbackInfo& info, bool async);
  template <typename A>
  MhaWeights::Name weight_arg(const Args<A>& a, MhaWeights::Slot* slot) const;
  // Shared with in-flight async calls; copied on write while one holds it.
  std::shared_ptr<MhaWeights> weights_;
  float scale_ = 1.0f;
};

// new MultiHeadAttention(...NA_LAYER_ARGS)
MultiHeadAttention::MultiHeadAttention(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MultiHeadAttention>(info) {
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
  try {
    fault::check_alloc();
    weights_ = std::make_shared<MhaWeights>(d);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(a.env(), "MultiHeadAttention: could not allocate the weights");
  }
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
  call.weights = weights_;
  call.params = att.params;
  call.params.scale = scale_;
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

}  // namespace

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
