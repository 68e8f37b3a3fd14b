// Unpacking of the options shared by the layer's forward and scaledDotProductAttention:
// mask + broadcast strides, causal, key lengths, weights output.
#pragma once
#include "args.h"
#include "attention.h"

namespace na::binding {

// Arguments i..i+4: mask (Uint8Array | Float32Array | null), then its element strides
// over (batch, head, query, key). Every element the strides can reach must lie inside
// the mask.
// *bytes receives the mask's size in bytes (for async calls, which copy it).
inline MaskSpec mask_arg(const Napi::CallbackInfo& info, size_t i, const AttentionShape& s, size_t* bytes) {
  MaskSpec m;
  Napi::Env env = info.Env();
  Napi::Value v = info[i];
  if (v.IsUndefined() || v.IsNull()) return m;
  int64_t length;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto a = typed_array<uint8_t>(info, i, "mask", -1);
    m.kind = MaskKind::Bool;
    m.data = a.data;
    length = a.length;
  } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    auto a = typed_array<float>(info, i, "mask", -1);
    m.kind = MaskKind::Additive;
    m.data = a.data;
    length = a.length;
  } else {
    throw_type(env, "mask: expected a Uint8Array, a Float32Array or null");
  }
  *bytes = size_t(length) * (m.kind == MaskKind::Bool ? 1 : sizeof(float));
  const int64_t max_stride = int64_t(1) << 53;
  m.batch_stride = integer(info, i + 1, "mask stride (batch)", 0, max_stride);
  m.head_stride = integer(info, i + 2, "mask stride (head)", 0, max_stride);
  m.query_stride = integer(info, i + 3, "mask stride (query)", 0, max_stride);
  m.key_stride = integer(info, i + 4, "mask stride (key)", 0, max_stride);
  // Largest offset reachable: sum over axes of (extent - 1) · stride.
  int64_t last = 0;
  const int64_t extents[4] = {s.B, s.H, s.Lq, s.Lk};
  const int64_t strides[4] = {m.batch_stride, m.head_stride, m.query_stride, m.key_stride};
  for (int a = 0; a < 4; ++a) {
    int64_t term;
    if (!checked_mul(extents[a] - 1, strides[a], &term) || !checked_add(last, term, &last))
      throw_range(env, "mask: strides reach beyond any array");
  }
  if (length == 0 || last >= length)
    throw_range(env, "mask: strides reach element " + std::to_string(last) + " of a mask of " +
                         std::to_string(length) + " elements");
  return m;
}

// Int32Array [B] of key lengths, each in [0, Lk], or null.
inline const int32_t* key_lengths_arg(const Napi::CallbackInfo& info, size_t i, int64_t B, int64_t Lk) {
  auto a = typed_array<int32_t>(info, i, "keyLengths", B, true);
  if (!a.data) return nullptr;
  for (int64_t b = 0; b < B; ++b)
    if (a.data[b] < 0 || a.data[b] > Lk)
      throw_range(info.Env(), "keyLengths[" + std::to_string(b) + "]: expected an integer in [0, " +
                                  std::to_string(Lk) + "], got " + std::to_string(a.data[b]));
  return a.data;
}

// out and weightsOut (either may be absent) share no memory with the three inputs, the
// mask, keyLengths or each other.
inline void require_outputs_disjoint(Napi::Env env, const ArrayArg<float>& out, const ArrayArg<float>& wout,
                                     std::initializer_list<Region> inputs, const MaskSpec& mask, size_t mask_bytes,
                                     const int32_t* key_lengths, int64_t B) {
  const Region o{"out", out.data, out.length * 4}, w{"weightsOut", wout.data, wout.length * 4};
  const Region m{"mask", mask.data, int64_t(mask_bytes)}, kl{"keyLengths", key_lengths, key_lengths ? B * 4 : 0};
  for (const Region& dst : {o, w}) {
    require_disjoint(env, dst, inputs);
    require_disjoint(env, dst, {m, kl});
  }
  require_disjoint(env, w, {o});
}

}  // namespace na::binding
