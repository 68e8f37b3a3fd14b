#include "kv_cache.h"

#include "fault_injection.h"

namespace na {

std::unique_ptr<KvCache> KvCache::create(int64_t batch, int64_t heads, int64_t max_length, int64_t Dk, int64_t Dv) {
  const int64_t keys = checked_product({batch, heads, max_length, Dk});
  const int64_t values = checked_product({batch, heads, max_length, Dv});
  int64_t floats;
  if (keys < 0 || values < 0 || !checked_add(keys, values, &floats) || floats > (int64_t(1) << 60) / 4) return nullptr;
  if (fault::should_fail(fault::Kind::Alloc)) return nullptr;
  // calloc: large blocks come from the kernel already zeroed and are backed by memory only
  // where they are written, so a cache sized for long sequences costs what it holds.
  std::unique_ptr<KvCache> c(new KvCache());
  c->memory_.reset(static_cast<float*>(std::calloc(size_t(floats), sizeof(float))));
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
