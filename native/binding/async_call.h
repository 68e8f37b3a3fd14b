// Runs a kernel call off the JS thread (on the compute pool: see compute_pool.h) and
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
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

#include "args.h"
#include "common.h"
#include "compute_pool.h"
#include "fault_injection.h"
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

  // The environment is gone: its references can no longer be deleted (that would touch a
  // dead V8 heap), so they are let go; the owned memory is freed as usual.
  void abandon() {
    for (Out& o : outs_) o.target.SuppressDestruct();
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
  // A queued call holds its copies until it runs: the caller bounds how many it queues.
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

// The channel through which async results come back to one Node environment (the main
// thread or a worker thread): a thread-safe function, referenced only while calls are
// in flight (so an idle process can exit), and closed when the environment goes away.
class EnvChannel {
 public:
  // This environment's channel, made on first use.
  static std::shared_ptr<EnvChannel> of(Napi::Env env);

  // JS thread: one more call in flight / one fewer.
  void started(napi_env env);
  void settled(napi_env env);
  // Any thread: false once the environment is gone (nobody waits for results any more).
  bool open() {
    std::lock_guard<std::mutex> lock(mu_);
    return open_;
  }
  // Pool thread: queues `call` for the JS thread. False when the environment is gone.
  bool post(void* call) {
    std::lock_guard<std::mutex> lock(mu_);
    return open_ && napi_call_threadsafe_function(tsfn_, call, napi_tsfn_nonblocking) == napi_ok;
  }

 private:
  static void call_js(napi_env env, napi_value, void* context, void* data);
  static void finalize(napi_env, void* data, void*);

  std::mutex mu_;  // guards open_ against the environment's teardown
  bool open_ = true;
  napi_threadsafe_function tsfn_ = nullptr;
  int in_flight_ = 0;  // JS thread only
};

// A call may have `void settled(bool ok) noexcept`: run on the JS thread once the call is
// over, ok when it succeeded and its outputs were delivered (sync: when it returned Ok). A
// call that changes state kept outside its outputs (a cache's filled lengths) commits it
// there, so that a call that fails changes nothing.
template <typename C, typename = void>
struct HasSettled : std::false_type {};
template <typename C>
struct HasSettled<C, std::void_t<decltype(std::declval<C&>().settled(true))>> : std::true_type {};
template <typename C>
void notify_settled(C& call, bool ok) noexcept {
  if constexpr (HasSettled<C>::value) call.settled(ok);
}

// What the JS thread does with a finished call.
class AsyncCallBase : public AsyncJob {
 public:
  // JS thread: copy the outputs into the caller's arrays and settle the Promise.
  void settle(napi_env env) noexcept;
  // The environment is gone: free what can be freed without it.
  void abandon() noexcept {
    buffers_->abandon();
    delete this;
  }

 protected:
  AsyncCallBase(std::shared_ptr<EnvChannel> channel, std::unique_ptr<AsyncBuffers> buffers)
      : channel_(std::move(channel)), buffers_(std::move(buffers)) {}
  bool wanted() const override { return channel_->open(); }
  void finish() noexcept override {
    if (!channel_->post(this)) abandon();
  }
  // JS thread, once: see notify_settled.
  virtual void on_settled(bool ok) noexcept { (void)ok; }
  // Runs `f`, turning any exception into a status or a message.
  template <typename F>
  void guarded(F f) noexcept {
    try {
      status_ = f();
    } catch (const std::bad_alloc&) {
      status_ = Status::OutOfMemory;
    } catch (const std::exception& e) {
      error_ = e.what();
    } catch (...) {
      error_ = "unknown error";
    }
  }

 private:
  friend Napi::Value start_async(Napi::Env, std::unique_ptr<AsyncCallBase>);
  std::shared_ptr<EnvChannel> channel_;
  std::unique_ptr<AsyncBuffers> buffers_;
  napi_deferred deferred_ = nullptr;
  Status status_ = Status::Ok;
  std::string error_;
};

template <typename Call>
class AsyncCall final : public AsyncCallBase {
 public:
  AsyncCall(Call call, std::shared_ptr<EnvChannel> channel, std::unique_ptr<AsyncBuffers> buffers)
      : AsyncCallBase(std::move(channel), std::move(buffers)), call_(std::move(call)) {}
  int64_t macs() const override { return call_.macs; }
  void run(const Lease& lease) noexcept override {
    guarded([&] { return call_(lease); });
  }
  void on_settled(bool ok) noexcept override { notify_settled(call_, ok); }

 private:
  Call call_;
};

// Queues the call on the compute pool and returns the Promise it settles.
Napi::Value start_async(Napi::Env env, std::unique_ptr<AsyncCallBase> call);

// The JavaScript error for a kernel status (RangeError for sizes, Error for memory).
Napi::Error status_error(Napi::Env env, Status s);

// The one path of every compute entry point, sync or async. `call` is plain data
// (pointers, sizes, kernel parameters) with `int64_t macs` and
// `Status operator()(const Lease&) const`. Sync: runs it now on a lease sized by its work,
// on the calling thread plus free pool threads (never waiting for one). Async:
// `own(call, buffers)` first points the call at copies of its inputs, made now (JS may
// change or detach the originals meanwhile), and at owned outputs; then it is queued on
// the compute pool, never on libuv's thread pool.
template <typename Call, typename Own>
Napi::Value run_call(Napi::Env env, Call call, bool async, Own own) {
  if (!async) {
    Lease lease = ComputePool::instance().lease_for(call.macs);
    Status s = Status::OutOfMemory;
    try {
      s = call(lease);
    } catch (...) {
      notify_settled(call, false);
      throw;
    }
    notify_settled(call, s == Status::Ok);
    throw_status(env, s);
    return env.Undefined();
  }
  try {
    auto buffers = std::make_unique<AsyncBuffers>();
    own(call, *buffers);
    fault::check_alloc();
    return start_async(env,
                       std::make_unique<AsyncCall<Call>>(std::move(call), EnvChannel::of(env), std::move(buffers)));
  } catch (const std::bad_alloc&) {
    notify_settled(call, false);  // never queued (the allocation comes before any move of `call`)
    throw Napi::Error::New(env, status_message(Status::OutOfMemory));
  }
}

}  // namespace na::binding
