// The key/value cache of a decoding layer: keys (after rotary) and values of every token
// seen so far, per cache row (one sequence each) and key/value head. Allocated once, at its
// full size; appends write into it and never reallocate. Which prefix of each row is filled
// (the lengths) is kept by the owner (the binding), which commits a call's appends only
// once the call has succeeded.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common.h"

namespace na {

class KvCache {
 public:
  // keys [batch, heads, max_length, Dk] then values [batch, heads, max_length, Dv], zeroed.
  // Null when the memory cannot be had (or the sizes overflow).
  static std::unique_ptr<KvCache> create(int64_t batch, int64_t heads, int64_t max_length, int64_t Dk, int64_t Dv);

  int64_t batch() const { return batch_; }
  int64_t heads() const { return heads_; }
  int64_t max_length() const { return max_length_; }
  int64_t key_dim() const { return Dk_; }
  int64_t value_dim() const { return Dv_; }
  int64_t bytes() const { return int64_t(sizeof(float)) * floats_; }

  // Key / value row `pos` of (cache row, head); consecutive positions are consecutive rows.
  float* key(int64_t row, int64_t head, int64_t pos) const {
    return keys_ + ((row * heads_ + head) * max_length_ + pos) * Dk_;
  }
  float* value(int64_t row, int64_t head, int64_t pos) const {
    return values_ + ((row * heads_ + head) * max_length_ + pos) * Dv_;
  }

 private:
  KvCache() = default;
  struct Unmap {
    size_t bytes;
    void operator()(float* p) const;
  };
  std::unique_ptr<float, Unmap> memory_{nullptr, Unmap{0}};
  float* keys_ = nullptr;
  float* values_ = nullptr;
  int64_t batch_ = 0, heads_ = 0, max_length_ = 0, Dk_ = 0, Dv_ = 0, floats_ = 0;
};

}  // namespace na
