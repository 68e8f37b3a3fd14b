// Module entry: registers the native surface typed in binding.d.ts. Context-aware
// (NODE_API_MODULE): it keeps no per-environment state; the compute and workspace pools
// are process-wide on purpose, so worker threads share the cores instead of each
// oversubscribing them.
#include <napi.h>

#include "args.h"
#include "cache.h"
#include "compute_pool.h"
#include "cpu_features.h"
#include "entry_points.h"
#include "fault_injection.h"
#include "gemm.h"
#include "mha.h"

#include <cstdlib>
#include <cstring>

namespace na::binding {

namespace {

// setNumThreads(n): the one entry point with a single positional argument.
Napi::Value set_num_threads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string expected = "setNumThreads: n: expected an integer in [1, " + std::to_string(kMaxThreads) + "]";
  if (info.Length() < 1 || !info[0].IsNumber()) throw_type(env, expected);
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= kMaxThreads && n == double(int(n)))) throw_range(env, expected);
  ComputePool::instance().set_num_threads(int(n));
  return env.Undefined();
}

// cpuInfo(): the instruction set our kernels use, and what the CPU and this build offer.
Napi::Value cpu_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu_features();
  const KernelTable& k = kernels();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", Napi::String::New(env, k.name));
  o.Set("requested", Napi::String::New(env, k.requested));
  Napi::Array available = Napi::Array::New(env);
  uint32_t n = 0;
  available.Set(n++, Napi::String::New(env, "generic"));
  if (f.avx2 && f.built_avx2) available.Set(n++, Napi::String::New(env, "avx2"));
  if (f.avx512f && f.built_avx512) available.Set(n++, Napi::String::New(env, "avx512"));
  if (f.amx && f.built_amx) available.Set(n++, Napi::String::New(env, "amx"));
  o.Set("available", available);
  o.Set("arch", Napi::String::New(env, f.x86 ? "x86-64" : "other"));
  return o;
}

// Each entry point's argument names, in call order (arg_tables.h): lib/binding.ts packs
// its named argument objects with them.
template <typename Arg>
void set_arg_names(Napi::Env env, Napi::Object o) {
  Napi::Array a = Napi::Array::New(env, size_t(Arg::kCount));
  for (size_t i = 0; i < size_t(Arg::kCount); ++i) a.Set(uint32_t(i), Napi::String::New(env, arg_names(Arg{})[i]));
  a.Freeze();
  o.Set(entry_name(Arg{}), a);
}

Napi::Object arg_names_object(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  set_arg_names<LayerArg>(env, o);
  set_arg_names<ForwardArg>(env, o);
  set_arg_names<SdpaArg>(env, o);
  set_arg_names<MatmulArg>(env, o);
  set_arg_names<SetWeightArg>(env, o);
  set_arg_names<GetWeightArg>(env, o);
  set_arg_names<CacheArg>(env, o);
  set_arg_names<CacheLengthsArg>(env, o);
  o.Freeze();
  return o;
}

// The limits lib/ validates against, so that each has one definition (here, in C++).
Napi::Object limits(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("maxElements", Napi::Number::New(env, double(kMaxElements)));
  o.Set("maxBlasInt", Napi::Number::New(env, double(kBlasIntMax)));
  o.Set("maxParameters", Napi::Number::New(env, double(kMaxParameters)));
  o.Set("maxThreads", Napi::Number::New(env, kMaxThreads));
  o.Freeze();
  return o;
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

// _faultInjection(kind: 'alloc' | 'thread', skip, count, thisThreadOnly?): after `skip`
// more allocations or thread starts succeed, the next `count` fail (with thisThreadOnly,
// only those made on the calling thread). Exported only when the process runs with
// NATIVE_ATTENTION_FAULT_INJECTION=1 (tests).
Napi::Value fault_injection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (kind != "alloc" && kind != "thread") throw_type(env, "_faultInjection: kind: expected 'alloc' or 'thread'");
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber())
    throw_type(env, "_faultInjection: skip, count: expected numbers");
  const bool this_thread_only = info.Length() > 3 && info[3].ToBoolean().Value();
  fault::arm(kind == "alloc" ? fault::Kind::Alloc : fault::Kind::ThreadStart, info[1].As<Napi::Number>().Int64Value(),
             info[2].As<Napi::Number>().Int64Value(), this_thread_only);
  return env.Undefined();
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  static const bool blas_ready = (blas_init(), true);  // once per process, not per environment
  (void)blas_ready;
  exports.Set("MultiHeadAttention", define_multi_head_attention(env));
  exports.Set("AttentionCache", define_attention_cache(env));
  exports.Set("scaledDotProductAttention",
              Napi::Function::New<scaled_dot_product_attention>(env, "scaledDotProductAttention"));
  exports.Set("scaledDotProductAttentionAsync",
              Napi::Function::New<scaled_dot_product_attention_async>(env, "scaledDotProductAttentionAsync"));
  exports.Set("matmul", Napi::Function::New<matmul>(env, "matmul"));
  exports.Set("setNumThreads", Napi::Function::New<set_num_threads>(env, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New<get_num_threads>(env, "getNumThreads"));
  exports.Set("blasInfo", Napi::Function::New<blas_info>(env, "blasInfo"));
  exports.Set("cpuInfo", Napi::Function::New<cpu_info>(env, "cpuInfo"));
  exports.Set("limits", limits(env));
  exports.Set("argNames", arg_names_object(env));
  const char* faults = std::getenv("NATIVE_ATTENTION_FAULT_INJECTION");
  if (faults && std::strcmp(faults, "1") == 0)
    exports.Set("_faultInjection", Napi::Function::New<fault_injection>(env, "_faultInjection"));
  return exports;
}

}  // namespace na::binding

static Napi::Object InitNativeAttention(Napi::Env env, Napi::Object exports) { return na::binding::init(env, exports); }

NODE_API_MODULE(native_attention, InitNativeAttention)
