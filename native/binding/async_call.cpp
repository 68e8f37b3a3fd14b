// Async calls: queued on the compute pool, settled on their environment's JS thread.
#include "async_call.h"

namespace na::binding {

namespace {
// Instance data of an environment: its channel (shared with the calls in flight, which
// may outlive the environment).
struct EnvData {
  std::shared_ptr<EnvChannel> channel;
};
}  // namespace

std::shared_ptr<EnvChannel> EnvChannel::of(Napi::Env env) {
  if (EnvData* d = env.GetInstanceData<EnvData>()) return d->channel;
  auto channel = std::make_shared<EnvChannel>();
  auto* holder = new std::shared_ptr<EnvChannel>(channel);  // the thread-safe function's reference
  napi_value name;
  napi_status s = napi_create_string_utf8(env, "native-attention", NAPI_AUTO_LENGTH, &name);
  if (s == napi_ok)
    s = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, holder, &EnvChannel::finalize, channel.get(),
                                        &EnvChannel::call_js, &channel->tsfn_);
  if (s != napi_ok) {
    delete holder;
    throw Napi::Error::New(env, "native-attention: could not create the channel for async results");
  }
  napi_unref_threadsafe_function(env, channel->tsfn_);  // referenced only while calls are in flight
  env.SetInstanceData(new EnvData{channel});
  return channel;
}

void EnvChannel::started(napi_env env) {
  if (in_flight_++ == 0) napi_ref_threadsafe_function(env, tsfn_);
}

void EnvChannel::settled(napi_env env) {
  if (--in_flight_ == 0) napi_unref_threadsafe_function(env, tsfn_);
}

void EnvChannel::call_js(napi_env env, napi_value, void* context, void* data) {
  auto* call = static_cast<AsyncCallBase*>(data);
  if (!env) {  // the environment is being torn down with this result still queued
    call->abandon();
    return;
  }
  static_cast<EnvChannel*>(context)->settled(env);
  call->settle(env);
  delete call;
}

void EnvChannel::finalize(napi_env, void* data, void*) {
  auto* holder = static_cast<std::shared_ptr<EnvChannel>*>(data);
  {
    std::lock_guard<std::mutex> lock((*holder)->mu_);
    (*holder)->open_ = false;
    (*holder)->tsfn_ = nullptr;
  }
  delete holder;
}

Napi::Error status_error(Napi::Env env, Status s) {
  if (s == Status::OutOfMemory) return Napi::Error::New(env, status_message(s));
  return Napi::RangeError::New(env, status_message(s));
}

void AsyncCallBase::settle(napi_env raw) noexcept {
  Napi::Env env(raw);
  try {
    Napi::HandleScope scope(env);
    try {
      if (!error_.empty()) throw Napi::Error::New(env, error_);
      if (status_ != Status::Ok) throw status_error(env, status_);
      buffers_->commit(env);
      on_settled(true);
      napi_resolve_deferred(env, deferred_, env.Undefined());
    } catch (const Napi::Error& e) {
      on_settled(false);
      napi_reject_deferred(env, deferred_, e.Value());
    }
  } catch (...) {
    // Nothing can be reported any more (e.g. the environment is terminating).
  }
}

Napi::Value start_async(Napi::Env env, std::unique_ptr<AsyncCallBase> call) {
  napi_value promise;
  if (napi_create_promise(env, &call->deferred_, &promise) != napi_ok)
    throw Napi::Error::New(env, "native-attention: could not create a Promise");
  call->channel_->started(env);
  try {
    ComputePool::instance().submit(call.get());
  } catch (const std::system_error& e) {
    call->channel_->settled(env);
    call->error_ = std::string("could not start a compute thread: ") + e.what();
    call->settle(env);  // rejects the Promise
    return Napi::Value(env, promise);
  }
  call.release();  // the pool owns it now; it deletes itself when settled
  return Napi::Value(env, promise);
}

}  // namespace na::binding
