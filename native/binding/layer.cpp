// AttentionLayer: the native half of MultiHeadAttention. Owns a copy of the weights
// (so JS cannot change them under a running call) and runs the forward pass.
#include <memory>

#include "attention_args.h"
#include "compute_worker.h"
#include "entry_points.h"
#include "mha.h"
#include "threads.h"

namespace na::binding {

namespace {

class AttentionLayer : public Napi::ObjectWrap<AttentionLayer> {
 public:
  explicit AttentionLayer(const Napi::CallbackInfo& info);

  Napi::Value SetWeight(const Napi::CallbackInfo& info);
  Napi::Value GetWeight(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);

 private:
  MhaWeights::Name weight_arg(const Napi::CallbackInfo& info, MhaWeights::Slot* slot) const;
  // Shared with in-flight async calls; copied on write while one holds it.
  std::shared_ptr<MhaWeights> weights_;
  float scale_ = 1.0f;
};

AttentionLayer::AttentionLayer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AttentionLayer>(info) {
  Napi::Env env = info.Env();
  MhaDims d;
  d.E = integer(info, 0, "embedDim", 1, kBlasIntMax);
  d.H = integer(info, 1, "numHeads", 1, kBlasIntMax);
  d.Dk = integer(info, 2, "keyDim", 1, kBlasIntMax);
  d.Dv = integer(info, 3, "valueDim", 1, kBlasIntMax);
  d.kdim = integer(info, 4, "kdim", 1, kBlasIntMax);
  d.vdim = integer(info, 5, "vdim", 1, kBlasIntMax);
  d.O = integer(info, 6, "outputDim", 1, kBlasIntMax);
  d.bias = boolean(info, 7, "useBias");
  scale_ = finite_float(info, 8, "scale");
  throw_status(env, mha_check_dims(d));
  // Refuse parameter counts that could only end in the OOM killer (Linux overcommits).
  const double params = double(d.E + d.kdim) * d.H * d.Dk + double(d.vdim + d.O) * d.H * d.Dv;
  if (params > double(kMaxElements) / 512) throw_range(env, "layer: too many parameters");
  try {
    weights_ = std::make_shared<MhaWeights>(d);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "layer: could not allocate the weights");
  }
}

// Argument 0 names a weight; *slot receives its shape. A layer without bias has no b*.
MhaWeights::Name AttentionLayer::weight_arg(const Napi::CallbackInfo& info, MhaWeights::Slot* slot) const {
  const auto name = MhaWeights::Name(integer(info, 0, "weight index", 0, MhaWeights::kCount - 1));
  *slot = weights_->slot(name);
  if (!slot->data) throw_range(info.Env(), "weight: this layer has no bias (useBias: false)");
  return name;
}

Napi::Value AttentionLayer::SetWeight(const Napi::CallbackInfo& info) {
  MhaWeights::Slot s;
  const auto name = weight_arg(info, &s);
  auto src = typed_array<float>(info, 1, "weight", s.rows * s.cols);
  // Copy on write: an async call in flight keeps computing with the weights it started with.
  if (weights_.use_count() > 1) weights_ = std::make_shared<MhaWeights>(*weights_);
  weights_->write(name, src.data);
  return info.Env().Undefined();
}

Napi::Value AttentionLayer::GetWeight(const Napi::CallbackInfo& info) {
  MhaWeights::Slot s;
  const auto name = weight_arg(info, &s);
  auto dst = typed_array<float>(info, 1, "out", s.rows * s.cols);
  weights_->read(name, dst.data);
  return info.Env().Undefined();
}

// forward(query, key, value, batch, queryLength, keyLength, mask, maskStrideB, maskStrideH,
//         maskStrideQ, maskStrideK, causal, keyLengths, out, weightsOut, async)
Napi::Value AttentionLayer::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MhaDims& d = weights_->dims();
  MhaInputs in;
  in.B = integer(info, 3, "batch", 1, kBlasIntMax);
  in.Lq = integer(info, 4, "queryLength", 1, kBlasIntMax);
  in.Lk = integer(info, 5, "keyLength", 1, kBlasIntMax);
  auto q = typed_array<float>(info, 0, "query", product_or_throw(env, {in.B, in.Lq, d.E}, "query"));
  auto k = typed_array<float>(info, 1, "key", product_or_throw(env, {in.B, in.Lk, d.kdim}, "key"));
  auto v = typed_array<float>(info, 2, "value", product_or_throw(env, {in.B, in.Lk, d.vdim}, "value"));
  in.query = q.data;
  in.key = k.data;
  in.value = v.data;
  const AttentionShape shape{in.B, d.H, in.Lq, in.Lk, d.Dk, d.Dv};
  AttentionParams p;
  p.scale = scale_;
  size_t mask_bytes = 0;
  p.mask = mask_arg(info, 6, shape, &mask_bytes);
  p.causal = boolean(info, 11, "causal");
  p.key_lengths = key_lengths_arg(info, 12, in.B, in.Lk);
  auto out = typed_array<float>(info, 13, "out", product_or_throw(env, {in.B, in.Lq, d.O}, "out"));
  auto wout = typed_array<float>(info, 14, "weightsOut", product_or_throw(env, {in.B, d.H, in.Lq, in.Lk}, "weightsOut"), true);
  p.weights = wout.data;
  const bool async = boolean(info, 15, "async");
  require_outputs_disjoint(env, out, wout,
                           {{"query", q.data, q.length * 4}, {"key", k.data, k.length * 4}, {"value", v.data, v.length * 4}},
                           p.mask, mask_bytes, p.key_lengths, in.B);
  const int64_t macs = mha_macs(d, in.B, in.Lq, in.Lk);

  if (!async) {
    Lease lease = lease_for(macs);
    throw_status(env, mha_forward(lease, *weights_, in, p, out.data));
    return env.Undefined();
  }
  // The worker computes on copies: JS may detach or shrink these buffers meanwhile.
  std::shared_ptr<const MhaWeights> w = weights_;
  auto buffers = std::make_unique<AsyncBuffers>();
  try {
    MhaInputs ain = in;
    ain.query = buffers->input(in.query, size_t(q.length));
    ain.key = buffers->input(in.key, size_t(k.length));
    ain.value = buffers->input(in.value, size_t(v.length));
    AttentionParams ap = p;
    ap.mask.data = buffers->input(p.mask.data, mask_bytes);
    ap.key_lengths = buffers->input(p.key_lengths, size_t(in.B));
    float* out_data = buffers->output(out.value, "out", size_t(out.length));
    ap.weights = p.weights ? buffers->output(wout.value, "weightsOut", size_t(wout.length)) : nullptr;
    return ComputeWorker::start(
        env,
        [w, ain, ap, out_data, macs]() {
          Lease lease = lease_for(macs);
          return mha_forward(lease, *w, ain, ap, out_data);
        },
        std::move(buffers));
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, status_message(Status::OutOfMemory));
  }
}

}  // namespace

Napi::Function define_attention_layer(Napi::Env env) {
  return AttentionLayer::DefineClass(env, "AttentionLayer",
                                     {
                                         AttentionLayer::InstanceMethod<&AttentionLayer::SetWeight>("setWeight"),
                                         AttentionLayer::InstanceMethod<&AttentionLayer::GetWeight>("getWeight"),
                                         AttentionLayer::InstanceMethod<&AttentionLayer::Forward>("forward"),
                                     });
}

}  // namespace na::binding
