// Runs a kernel call off the JS thread (node-addon-api AsyncWorker on libuv's pool) and
// settles a Promise. Everything Execute() touches is owned by the worker: the call's
// plain-data description (sizes, kernel parameters) is copied into its closure, and the
// arrays' contents into an AsyncBuffers on the main thread,
// because JavaScript may detach, transfer or shrink an ArrayBuffer while the call runs (a
// reference keeps the typed array alive, not its memory). Outputs are computed into owned
// memory and copied into the caller's arrays in OnOK, on the main thread, after checking
// that they are still attached and as long.
#pragma once
#include <napi.h>

#include <cstring>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "args.h"
#include "common.h"
#include "compute_pool.h"
#include "workspace.h"

namespace na::binding {

class AsyncBuffers {
 public:
  // A copy of `bytes` bytes at `src`; the same source address gives the same copy, so
  // inputs that are one array (self-attention) stay one array.
  const void* input(const void* src, size_t bytes) {
    if (!src) return nullptr;
    for (const auto& c : copies_)
      if (c.src == src && c.bytes >= bytes) return c.data.data();
    Copy c{src, bytes, take((bytes + sizeof(float) - 1) / sizeof(float))};
    std::memcpy(c.data.data(), src, bytes);
    copies_.push_back(std::move(c));
    return copies_.back().data.data();
  }
  template <typename T>
  const T* input(const T* src, size_t n) {
    return static_cast<const T*>(input(static_cast<const void*>(src), n * sizeof(T)));
  }

  // Owned memory for an output of n floats, copied into the Float32Array `target` by commit().
  float* output(Napi::Value target, const char* name, size_t n) {
    if (target.IsEmpty() || !target.IsTypedArray()) return nullptr;
    Out o{Napi::Persistent(target.As<Napi::Object>()), take(n), n, name};
    outs_.push_back(std::move(o));
    return outs_.back().data.data();
  }

  // Main thread, after the work: each target must still be attached and as long as it was.
  void commit(Napi::Env env) {
    for (Out& o : outs_) {
      napi_typedarray_type kind;
      size_t length = 0;
      void* data = nullptr;
      napi_value buffer;
      size_t offset = 0;
      bool detached = false;
      if (napi_get_typedarray_info(env, o.target.Value(), &kind, &length, &data, &buffer, &offset) != napi_ok ||
          (napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached) || kind != napi_float32_array ||
          length != o.n || (o.n > 0 && !data))
        throw Napi::TypeError::New(env, o.name + ": its ArrayBuffer was detached or resized during the call");
      std::memcpy(data, o.data.data(), sizeof(float) * o.n);
    }
  }

 private:
  // From the workspace pool: reused call after call, so the copies cost no page faults.
  // lib/ keeps at most as many async calls in flight as there are compute threads, which
  // bounds what the pool holds for them.
  static Workspace take(size_t floats) {
    Workspace w = WorkspacePool::instance().acquire(floats);
    if (!w.ok()) throw std::bad_alloc();
    return w;
  }
  struct Copy {
    const void* src;
    size_t bytes;
    Workspace data;
  };
  struct Out {
    Napi::ObjectReference target;
    Workspace data;
    size_t n;
    std::string name;
  };
  std::vector<Copy> copies_;
  std::vector<Out> outs_;
};

class ComputeWorker : public Napi::AsyncWorker {
 public:
  ComputeWorker(Napi::Env env, std::function<Status()> work, std::unique_ptr<AsyncBuffers> buffers)
      : Napi::AsyncWorker(env, "native-attention"),
        work_(std::move(work)),
        buffers_(std::move(buffers)),
        deferred_(Napi::Promise::Deferred::New(env)) {}

  // Queues the work and returns the Promise it settles. The worker deletes itself.
  static Napi::Promise start(Napi::Env env, std::function<Status()> work, std::unique_ptr<AsyncBuffers> buffers) {
    auto* w = new ComputeWorker(env, std::move(work), std::move(buffers));
    Napi::Promise p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    try {
      const Status s = work_();
      if (s != Status::Ok) SetError(status_message(s));
    } catch (const std::bad_alloc&) {
      SetError(status_message(Status::OutOfMemory));
    } catch (const std::exception& e) {
      SetError(e.what());  // e.g. std::system_error when a pool thread cannot start
    }
  }
  void OnOK() override {
    try {
      buffers_->commit(Env());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
      return;
    }
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::function<Status()> work_;
  std::unique_ptr<AsyncBuffers> buffers_;
  Napi::Promise::Deferred deferred_;
};

// The one path of every compute entry point, sync or async. `call` is plain data
// (pointers, sizes, kernel parameters) with `int64_t macs` and
// `Status operator()(const Lease&) const`. Sync: runs it now on a lease sized by its work.
// Async: `own(call, buffers)` first points the call at copies of its inputs and at owned
// outputs (JS may detach or resize the originals meanwhile), then a worker runs it.
template <typename Call, typename Own>
Napi::Value run_call(Napi::Env env, Call call, bool async, Own own) {
  if (!async) {
    Lease lease = ComputePool::instance().lease_for(call.macs);
    throw_status(env, call(lease));
    return env.Undefined();
  }
  auto buffers = std::make_unique<AsyncBuffers>();
  try {
    own(call, *buffers);
    return ComputeWorker::start(
        env,
        [call]() {
          Lease lease = ComputePool::instance().lease_for(call.macs);
          return call(lease);
        },
        std::move(buffers));
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, status_message(Status::OutOfMemory));
  }
}

}  // namespace na::binding
