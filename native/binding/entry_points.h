// The native surface typed in binding.d.ts, one function per entry point.
#pragma once
#include <napi.h>

namespace na::binding {
Napi::Function define_multi_head_attention(Napi::Env env);
Napi::Value scaled_dot_product_attention(const Napi::CallbackInfo& info);
Napi::Value scaled_dot_product_attention_async(const Napi::CallbackInfo& info);
Napi::Value matmul(const Napi::CallbackInfo& info);
}  // namespace na::binding
