// scaledDotProductAttention on already projected heads laid out [B, H, L, D].
#include "async_call.h"
#include "attention_args.h"
#include "entry_points.h"
#include "workspace.h"

namespace na::binding {

namespace {

// One call as plain data: safe to copy into an async worker.
struct SdpaCall {
  AttentionShape shape;
  HeadsIn q, k, v;
  HeadsOut o;
  AttentionParams params;
  int64_t macs;

  Status operator()(const Lease& lease) const {
    const Status st = attention_check(shape, q, k, v, o);
    if (st != Status::Ok) return st;
    const int64_t floats = attention_scratch_floats(shape, lease.threads(), params.weights != nullptr);
    Workspace ws = WorkspacePool::instance().acquire(size_t(floats));
    if (!ws.ok()) return Status::OutOfMemory;
    attention_heads(lease, shape, q, k, v, o, params, ws.data());
    return Status::Ok;
  }
};

// Contiguous [B, H, L, D]: batch stride H·L·D, head stride L·D, row stride D.
template <typename Heads, typename T>
Heads contiguous_heads(T* data, int64_t H, int64_t L, int64_t D) {
  return Heads{data, H * L * D, L * D, D};
}

// (...NA_SDPA_ARGS)
Napi::Value sdpa(const Napi::CallbackInfo& info, bool async) {
  using A = SdpaArg;
  const Args<A> a(info, async ? "scaledDotProductAttentionAsync" : "scaledDotProductAttention");
  SdpaCall call;
  AttentionShape& s = call.shape;
  s.B = a.dim(A::batch);
  s.H = a.dim(A::heads);
  s.Lq = a.dim(A::queryLength);
  s.Lk = a.dim(A::keyLength);
  s.Dk = a.dim(A::keyDim);
  s.Dv = a.dim(A::valueDim);
  auto q = a.typed_array<float>(A::q, a.elements(A::q, {s.B, s.H, s.Lq, s.Dk}));
  auto k = a.typed_array<float>(A::k, a.elements(A::k, {s.B, s.H, s.Lk, s.Dk}));
  auto v = a.typed_array<float>(A::v, a.elements(A::v, {s.B, s.H, s.Lk, s.Dv}));
  const float scale = a.finite_float(A::scale);
  const AttentionArgs att =
      read_attention_args(a, s, a.elements(A::out, {s.B, s.H, s.Lq, s.Dv}),
                          {{"q", q.data, q.bytes()}, {"k", k.data, k.bytes()}, {"v", v.data, v.bytes()}});
  call.q = contiguous_heads<HeadsIn>(q.data, s.H, s.Lq, s.Dk);
  call.k = contiguous_heads<HeadsIn>(k.data, s.H, s.Lk, s.Dk);
  call.v = contiguous_heads<HeadsIn>(v.data, s.H, s.Lk, s.Dv);
  call.o = contiguous_heads<HeadsOut>(att.out.data, s.H, s.Lq, s.Dv);
  call.params = att.params;
  call.params.scale = scale;
  call.macs = saturating_macs(double(s.B) * s.H * s.Lq * s.Lk * (s.Dk + s.Dv));
  return run_call(a.env(), call, async, [&](SdpaCall& c, AsyncBuffers& buffers) {
    c.q.data = buffers.input(q.data, size_t(q.length));
    c.k.data = buffers.input(k.data, size_t(k.length));
    c.v.data = buffers.input(v.data, size_t(v.length));
    c.o.data = own_attention_args(att, &c.params, buffers);
  });
}

}  // namespace

Napi::Value scaled_dot_product_attention(const Napi::CallbackInfo& info) { return sdpa(info, false); }
Napi::Value scaled_dot_product_attention_async(const Napi::CallbackInfo& info) { return sdpa(info, true); }

}  // namespace na::binding
