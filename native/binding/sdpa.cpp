// scaledDotProductAttention on already projected heads laid out [B, H, L, D].
#include "attention_args.h"
#include "compute_worker.h"
#include "entry_points.h"
#include "threads.h"
#include "workspace.h"

namespace na::binding {

namespace {

Status run_sdpa(const Lease& lease, const AttentionShape& s, const HeadsIn& q, const HeadsIn& k, const HeadsIn& v,
                const HeadsOut& o, const AttentionParams& p) {
  const Status st = attention_check(s, q, k, v, o);
  if (st != Status::Ok) return st;
  Workspace ws = WorkspacePool::instance().acquire(size_t(attention_scratch_floats(s, lease.threads(), p.weights)));
  if (!ws.ok()) return Status::OutOfMemory;
  attention_heads(lease, s, q, k, v, o, p, ws.data());
  return Status::Ok;
}

}  // namespace

// scaledDotProductAttention(q, k, v, batch, heads, queryLength, keyLength, keyDim, valueDim,
//   scale, mask, maskStrideB, maskStrideH, maskStrideQ, maskStrideK, causal, keyLengths,
//   out, weightsOut, async)
Napi::Value scaled_dot_product_attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AttentionShape s;
  s.B = integer(info, 3, "batch", 1, kBlasIntMax);
  s.H = integer(info, 4, "heads", 1, kBlasIntMax);
  s.Lq = integer(info, 5, "queryLength", 1, kBlasIntMax);
  s.Lk = integer(info, 6, "keyLength", 1, kBlasIntMax);
  s.Dk = integer(info, 7, "keyDim", 1, kBlasIntMax);
  s.Dv = integer(info, 8, "valueDim", 1, kBlasIntMax);
  auto qa = typed_array<float>(info, 0, "q", product_or_throw(env, {s.B, s.H, s.Lq, s.Dk}, "q"));
  auto ka = typed_array<float>(info, 1, "k", product_or_throw(env, {s.B, s.H, s.Lk, s.Dk}, "k"));
  auto va = typed_array<float>(info, 2, "v", product_or_throw(env, {s.B, s.H, s.Lk, s.Dv}, "v"));
  AttentionParams p;
  p.scale = finite_float(info, 9, "scale");
  size_t mask_bytes = 0;
  p.mask = mask_arg(info, 10, s, &mask_bytes);
  p.causal = boolean(info, 15, "causal");
  p.key_lengths = key_lengths_arg(info, 16, s.B, s.Lk);
  auto out = typed_array<float>(info, 17, "out", product_or_throw(env, {s.B, s.H, s.Lq, s.Dv}, "out"));
  auto wout = typed_array<float>(info, 18, "weightsOut", product_or_throw(env, {s.B, s.H, s.Lq, s.Lk}, "weightsOut"), true);
  p.weights = wout.data;
  const bool async = boolean(info, 19, "async");
  require_outputs_disjoint(env, out, wout,
                           {{"q", qa.data, qa.length * 4}, {"k", ka.data, ka.length * 4}, {"v", va.data, va.length * 4}},
                           p.mask, mask_bytes, p.key_lengths, s.B);

  // Contiguous [B, H, L, D]: batch stride H·L·D, head stride L·D, row stride D.
  const HeadsIn q{qa.data, s.H * s.Lq * s.Dk, s.Lq * s.Dk, s.Dk};
  const HeadsIn k{ka.data, s.H * s.Lk * s.Dk, s.Lk * s.Dk, s.Dk};
  const HeadsIn v{va.data, s.H * s.Lk * s.Dv, s.Lk * s.Dv, s.Dv};
  const HeadsOut o{out.data, s.H * s.Lq * s.Dv, s.Lq * s.Dv, s.Dv};
  const int64_t macs = s.B * s.H * s.Lq * s.Lk * (s.Dk + s.Dv);

  if (!async) {
    Lease lease = lease_for(macs);
    throw_status(env, run_sdpa(lease, s, q, k, v, o, p));
    return env.Undefined();
  }
  // The worker computes on copies: JS may detach or shrink these buffers meanwhile.
  auto buffers = std::make_unique<AsyncBuffers>();
  try {
    const HeadsIn aq{buffers->input(q.data, size_t(qa.length)), q.batch_stride, q.head_stride, q.row_stride};
    const HeadsIn ak{buffers->input(k.data, size_t(ka.length)), k.batch_stride, k.head_stride, k.row_stride};
    const HeadsIn av{buffers->input(v.data, size_t(va.length)), v.batch_stride, v.head_stride, v.row_stride};
    const HeadsOut ao{buffers->output(out.value, "out", size_t(out.length)), o.batch_stride, o.head_stride, o.row_stride};
    AttentionParams ap = p;
    ap.mask.data = buffers->input(p.mask.data, mask_bytes);
    ap.key_lengths = buffers->input(p.key_lengths, size_t(s.B));
    ap.weights = p.weights ? buffers->output(wout.value, "weightsOut", size_t(wout.length)) : nullptr;
    return ComputeWorker::start(
        env,
        [s, aq, ak, av, ao, ap, macs]() {
          Lease lease = lease_for(macs);
          return run_sdpa(lease, s, aq, ak, av, ao, ap);
        },
        std::move(buffers));
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, status_message(Status::OutOfMemory));
  }
}

}  // namespace na::binding
