#include "kv_cache.h"

#include "fault_injection.h"
#include "workspace.h"

namespace na {

void KvCache::Unmap::operator()(float* p) const { unmap_zeroed(p, bytes); }

std::unique_ptr<KvCache> KvCache::create(int64_t batch, int64_t heads, int64_t max_length, int64_t Dk, int64_t Dv) {
  const int64_t keys = checked_product({batch, heads, max_length, Dk});
  const int64_t values = checked_product({batch, heads, max_length, Dv});
  int64_t floats;
  if (keys < 0 || values < 0 || !checked_add(keys, values, &floats) || floats > (int64_t(1) << 60) / 4) return nullptr;
  if (fault::should_fail(fault::Kind::Alloc)) return nullptr;
  // Mapped from the OS: zeroed, and backed by memory only where written, so a cache sized
  // for long sequences costs what it holds; returned to the OS when the cache goes.
  std::unique_ptr<KvCache> c(new KvCache());
  const size_t bytes = size_t(floats) * sizeof(float);
  c->memory_ = std::unique_ptr<float, Unmap>(static_cast<float*>(map_zeroed(bytes)), Unmap{bytes});
  if (!c->memory_) return nullptr;
  float* memory = c->memory_.get();
  c->keys_ = memory;
  c->values_ = memory + keys;
  c->batch_ = batch;
  c->heads_ = heads;
  c->max_length_ = max_length;
  c->Dk_ = Dk;
  c->Dv_ = Dv;
  c->floats_ = floats;
  return c;
}

}  // namespace na
