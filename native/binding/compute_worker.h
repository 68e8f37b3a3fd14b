// Runs a kernel call off the JS thread (node-addon-api AsyncWorker on libuv's pool) and
// settles a Promise. Everything Execute() touches was copied into `work` on the main
// thread; the JS arrays it points into are held by references until the worker ends,
// so garbage collection cannot free them underneath the kernel.
#pragma once
#include <napi.h>

#include <functional>
#include <new>
#include <vector>

#include "common.h"

namespace na::binding {

class ComputeWorker : public Napi::AsyncWorker {
 public:
  ComputeWorker(Napi::Env env, std::function<Status()> work, std::initializer_list<Napi::Value> keep)
      : Napi::AsyncWorker(env, "native-attention"), work_(std::move(work)), deferred_(Napi::Promise::Deferred::New(env)) {
    refs_.reserve(keep.size());
    for (const Napi::Value& v : keep)
      if (!v.IsEmpty() && v.IsObject()) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
  }

  // Queues the work and returns the Promise it settles. The worker deletes itself.
  static Napi::Promise start(Napi::Env env, std::function<Status()> work, std::initializer_list<Napi::Value> keep) {
    auto* w = new ComputeWorker(env, std::move(work), keep);
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
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::function<Status()> work_;
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
};

}  // namespace na::binding
