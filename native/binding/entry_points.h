#pragma once
#include <napi.h>

namespace na::binding {
Napi::Function define_attention_layer(Napi::Env env);
Napi::Value scaled_dot_product_attention(const Napi::CallbackInfo& info);
Napi::Value matmul(const Napi::CallbackInfo& info);
}  // namespace na::binding
