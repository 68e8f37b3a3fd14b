// Module entry: registers the native surface typed in binding.d.ts. Context-aware
// (NODE_API_MODULE): it keeps no per-environment state; the compute and workspace pools
// are process-wide on purpose, so worker threads share the cores instead of each
// oversubscribing them.
#include <napi.h>

#include "args.h"
#include "compute_pool.h"
#include "entry_points.h"
#include "gemm.h"

namespace na::binding {

namespace {

Napi::Value set_num_threads(const Napi::CallbackInfo& info) {
  ComputePool::instance().set_num_threads(int(integer(info, 0, "n", 1, 256)));
  return info.Env().Undefined();
}

Napi::Value get_num_threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ComputePool::instance().num_threads());
}

Napi::Value blas_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("config", Napi::String::New(env, blas_config()));
  o.Set("coreName", Napi::String::New(env, blas_core_name()));
  o.Set("cores", Napi::Number::New(env, available_cores()));
  return o;
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  static const bool blas_ready = (blas_init(), true);  // once per process, not per environment
  (void)blas_ready;
  exports.Set("AttentionLayer", define_attention_layer(env));
  exports.Set("scaledDotProductAttention", Napi::Function::New<scaled_dot_product_attention>(env, "scaledDotProductAttention"));
  exports.Set("matmul", Napi::Function::New<matmul>(env, "matmul"));
  exports.Set("setNumThreads", Napi::Function::New<set_num_threads>(env, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New<get_num_threads>(env, "getNumThreads"));
  exports.Set("blasInfo", Napi::Function::New<blas_info>(env, "blasInfo"));
  return exports;
}

}  // namespace na::binding

static Napi::Object InitNativeAttention(Napi::Env env, Napi::Object exports) { return na::binding::init(env, exports); }

NODE_API_MODULE(native_attention, InitNativeAttention)
