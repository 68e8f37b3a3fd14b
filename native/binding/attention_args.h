// The arguments every attention entry point shares (the layer's forward and
// scaledDotProductAttention: NA_ATTENTION_ARGS in arg_tables.h): mask + broadcast strides,
// causal, key lengths and the two outputs; and what an async call does with them (copies
// and owned outputs). Templates over the entry point's argument enum.
#pragma once
#include <string>

#include "args.h"
#include "async_call.h"
#include "attention.h"

namespace na::binding {

// The JS-side view of the shared arguments: kernel parameters plus the arrays behind them.
struct AttentionArgs {
  AttentionParams params;  // the caller sets params.scale
  size_t mask_bytes = 0;
  int64_t batch = 0;
  ArrayArg<float> out, weights_out;
};

namespace detail {

// mask (Uint8Array | Float32Array | null) and maskStrides: element strides over (batch,
// head, query, key). Every element the strides can reach must lie inside the mask.
template <typename A>
MaskSpec read_mask(const Args<A>& a, const AttentionShape& s, size_t* bytes) {
  MaskSpec m;
  Napi::Value v = a.get(A::mask);
  if (v.IsUndefined() || v.IsNull()) return m;
  int64_t length;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto arr = a.template typed_array_value<uint8_t>(A::mask, v, -1);
    m.kind = MaskKind::Bool;
    m.data = arr.data;
    length = arr.length;
    *bytes = size_t(arr.bytes());
  } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    auto arr = a.template typed_array_value<float>(A::mask, v, -1);
    m.kind = MaskKind::Additive;
    m.data = arr.data;
    length = arr.length;
    *bytes = size_t(arr.bytes());
  } else {
    a.type_error(A::mask, "expected a Uint8Array, a Float32Array or null");
  }
  Napi::Value sv = a.get(A::maskStrides);
  if (!sv.IsArray() || sv.As<Napi::Array>().Length() != 4)
    a.type_error(A::maskStrides, "expected an array of 4 element strides (batch, head, query, key)");
  const Napi::Array strides_js = sv.As<Napi::Array>();
  const int64_t max_stride = int64_t(1) << 53;
  int64_t strides[4];
  for (uint32_t i = 0; i < 4; ++i) strides[i] = a.integer_value(A::maskStrides, strides_js.Get(i), 0, max_stride);
  m.batch_stride = strides[0];
  m.head_stride = strides[1];
  m.query_stride = strides[2];
  m.key_stride = strides[3];
  // Largest offset reachable: sum over axes of (extent - 1) · stride.
  int64_t last = 0;
  const int64_t extents[4] = {s.B, s.H, s.Lq, s.Lk};
  for (int axis = 0; axis < 4; ++axis) {
    int64_t term;
    if (!checked_mul(extents[axis] - 1, strides[axis], &term) || !checked_add(last, term, &last))
      a.range_error(A::mask, "strides reach beyond any array");
  }
  if (length == 0 || last >= length)
    a.range_error(A::mask, "strides reach element " + std::to_string(last) + " of a mask of " + std::to_string(length) +
                               " elements");
  return m;
}

// Int32Array [B] of key lengths, each in [0, Lk], or null.
template <typename A>
const int32_t* read_key_lengths(const Args<A>& a, int64_t B, int64_t Lk) {
  auto arr = a.template typed_array<int32_t>(A::keyLengths, B, true);
  for (int64_t b = 0; b < arr.length; ++b)
    if (arr.data[b] < 0 || arr.data[b] > Lk)
      a.range_error(A::keyLengths, "entry " + std::to_string(b) + ": expected an integer in [0, " + std::to_string(Lk) +
                                       "], got " + std::to_string(arr.data[b]));
  return arr.data;
}

}  // namespace detail

// Reads mask, maskStrides, causal, keyLengths, out ([out_elements]) and weightsOut
// ([B, H, Lq, Lk] or null), and checks that the outputs share no memory with `inputs`,
// the mask, keyLengths or each other.
template <typename A>
AttentionArgs read_attention_args(const Args<A>& a, const AttentionShape& s, int64_t out_elements,
                                  std::initializer_list<Region> inputs) {
  AttentionArgs r;
  r.batch = s.B;
  r.params.mask = detail::read_mask<A>(a, s, &r.mask_bytes);
  r.params.causal = a.boolean(A::causal);
  r.params.key_lengths = detail::read_key_lengths<A>(a, s.B, s.Lk);
  r.out = a.template typed_array<float>(A::out, out_elements);
  r.weights_out = a.template typed_array<float>(A::weightsOut, a.elements(A::weightsOut, {s.B, s.H, s.Lq, s.Lk}), true);
  r.params.weights = r.weights_out.data;

  const Region o{"out", r.out.data, r.out.bytes()}, w{"weightsOut", r.weights_out.data, r.weights_out.bytes()};
  const Region m{"mask", r.params.mask.data, int64_t(r.mask_bytes)};
  const Region kl{"keyLengths", r.params.key_lengths, r.params.key_lengths ? s.B * 4 : 0};
  for (const Region& dst : {o, w}) {
    require_disjoint(a.env(), dst, inputs);
    require_disjoint(a.env(), dst, {m, kl});
  }
  require_disjoint(a.env(), w, {o});
  return r;
}

// For an async call: the mask and key lengths become copies, the outputs owned memory
// that OnOK copies into the JS arrays. Returns the owned `out`.
inline float* own_attention_args(const AttentionArgs& a, AttentionParams* p, AsyncBuffers& buffers) {
  p->mask.data = buffers.input(a.params.mask.data, a.mask_bytes);
  p->key_lengths = buffers.input(a.params.key_lengths, size_t(a.batch));
  p->weights =
      a.weights_out.data ? buffers.output(a.weights_out.value, "weightsOut", size_t(a.weights_out.length)) : nullptr;
  return buffers.output(a.out.value, "out", size_t(a.out.length));
}

}  // namespace na::binding
