#include "decode_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu_features.h"
#include "flash_attention.h"

namespace na {

namespace {

// How one call splits into tasks. Sequence s has Hkv · blocks(s) units (a key/value head and
// a block of its query heads, at most kDecodeRows rows) of chunks(s) tasks each.
struct Plan {
  int64_t G;  // query heads per key/value head
  const DecodeCall& c;
  int64_t heads_per_block(int64_t s) const { return std::max<int64_t>(1, std::min(G, kDecodeRows / c.tokens[s])); }
  int64_t blocks(int64_t s) const {
    const int64_t hb = heads_per_block(s);
    return (G + hb - 1) / hb;
  }
  int64_t chunks(int64_t s) const { return (c.past[s] + c.tokens[s] + kDecodeChunk - 1) / kDecodeChunk; }
  // Sequences with more new tokens are not this call's (the fused kernel's): no units.
  int64_t units(int64_t s) const { return c.tokens[s] > kDecodeMaxTokens ? 0 : c.Hkv * blocks(s); }
  int64_t partial_floats() const { return kDecodeRows * (c.Dv + 2); }  // per task

  // Unit `unit` of sequence s: key/value head g and its query heads [h0, h0 + heads).
  struct Unit {
    int64_t g, h0, heads;
  };
  Unit unit(int64_t s, int64_t unit) const {
    const int64_t g = unit / blocks(s), hb = heads_per_block(s);
    const int64_t h0 = g * G + (unit % blocks(s)) * hb;
    return {g, h0, std::min(hb, (g + 1) * G - h0)};
  }
};

// The workspace: per-sequence first task and first unit (prefix sums, sequences + 1 each),
// then the tasks' partials, then each thread's kernel scratch.
struct Layout {
  int64_t* first_task;
  int64_t* first_unit;
  float* partials;
  float* scratch;
  int64_t total;
};

Layout layout(const Plan& p, int threads, float* base) {
  const DecodeCall& c = p.c;
  Layout l{};
  const int64_t index_floats = (c.sequences + 1) * 4;  // two int64 arrays of sequences + 1
  int64_t tasks = 0;
  for (int64_t s = 0; s < c.sequences; ++s) tasks += p.units(s) * p.chunks(s);
  const int64_t per_thread = kernels().flash.decode_scratch_floats(c.Dk, c.Dv);
  const int64_t partials = checked_product({tasks, p.partial_floats()});
  const int64_t scratch = checked_product({threads, per_thread});
  if (partials < 0 || scratch < 0) return {nullptr, nullptr, nullptr, nullptr, -1};
  const int64_t head = (index_floats + 15) / 16 * 16;  // keeps what follows 64-byte aligned
  l.total = head + partials + scratch;
  if (base) {
    l.first_task = reinterpret_cast<int64_t*>(base);
    l.first_unit = l.first_task + (c.sequences + 1);
    l.partials = base + head;
    l.scratch = l.partials + partials;
  }
  return l;
}

// The sequence holding item `i` of a prefix-sum array `first` ([sequences + 1]).
int64_t owner(const int64_t* first, int64_t sequences, int64_t i) {
  return int64_t(std::upper_bound(first, first + sequences + 1, i) - first) - 1;
}

}  // namespace

int64_t decode_workspace_floats(const DecodeCall& c, int threads) {
  return layout(Plan{c.H / c.Hkv, c}, threads, nullptr).total;
}

void decode_attention(const Lease& lease, const DecodeCall& c, float* workspace) {
  const Plan p{c.H / c.Hkv, c};
  const Layout l = layout(p, lease.threads(), workspace);
  l.first_task[0] = l.first_unit[0] = 0;
  for (int64_t s = 0; s < c.sequences; ++s) {
    l.first_unit[s + 1] = l.first_unit[s] + p.units(s);
    l.first_task[s + 1] = l.first_task[s] + p.units(s) * p.chunks(s);
  }
  const FlashKernel& fk = kernels().flash;
  const int64_t per_thread = fk.decode_scratch_floats(c.Dk, c.Dv);

  // Each task: one chunk of keys for one block of query heads.
  lease.parallel_for(l.first_task[c.sequences], [&](int64_t task, int tid) {
    const int64_t s = owner(l.first_task, c.sequences, task);
    const int64_t local = task - l.first_task[s], chunks = p.chunks(s);
    const int64_t chunk = local % chunks;
    const Plan::Unit u = p.unit(s, local / chunks);
    DecodeTask t;
    t.heads = u.heads;
    t.tokens = c.tokens[s];
    t.q = c.q + c.rows[s] * c.ldq + u.h0 * c.Dk;
    t.q_head_stride = c.Dk;
    t.q_token_stride = c.ldq;
    t.k = c.k + c.kv[s] * c.k_row + u.g * c.k_head;
    t.v = c.v + c.kv[s] * c.v_row + u.g * c.v_head;
    t.ldk = c.ldk;
    t.ldv = c.ldv;
    t.Dk = c.Dk;
    t.Dv = c.Dv;
    t.j0 = chunk * kDecodeChunk;
    t.j1 = std::min<int64_t>(t.j0 + kDecodeChunk, int64_t(c.past[s]) + c.tokens[s]);
    t.past = c.past[s];
    t.window = c.window;
    t.scale = c.scale;
    t.partial = l.partials + task * p.partial_floats();
    fk.decode(t, l.scratch + tid * per_thread);
  });

  // Merge each unit's chunks into its output rows: rescale each chunk's sum and output by
  // exp(m_chunk - m) for the row's overall maximum m, then normalise.
  lease.parallel_for(l.first_unit[c.sequences], [&](int64_t unit_id, int) {
    const int64_t s = owner(l.first_unit, c.sequences, unit_id);
    const int64_t unit = unit_id - l.first_unit[s], chunks = p.chunks(s);
    const Plan::Unit u = p.unit(s, unit);
    const int64_t tokens = c.tokens[s];
    const float* first = l.partials + (l.first_task[s] + unit * chunks) * p.partial_floats();
    for (int64_t r = 0; r < u.heads * tokens; ++r) {
      const int64_t h = u.h0 + r / tokens, tok = r % tokens;
      float* out = c.o + (c.rows[s] + tok) * c.ldo + h * c.Dv;
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t ch = 0; ch < chunks; ++ch) m = std::max(m, first[ch * p.partial_floats() + r * (c.Dv + 2)]);
      float sum = 0.0f;
      std::fill(out, out + c.Dv, 0.0f);
      for (int64_t ch = 0; ch < chunks; ++ch) {
        const float* part = first + ch * p.partial_floats() + r * (c.Dv + 2);
        if (part[0] == -std::numeric_limits<float>::infinity()) {
          sum += part[1];  // 0, or NaN when a NaN score hid everything else: the row is NaN
          continue;
        }
        const float w = std::exp(part[0] - m);
        sum += w * part[1];
        for (int64_t d = 0; d < c.Dv; ++d) out[d] += w * part[2 + d];
      }
      if (sum == 0.0f) {
        std::fill(out, out + c.Dv, 0.0f);
      } else {
        for (int64_t d = 0; d < c.Dv; ++d) out[d] /= sum;
      }
    }
  });
}

}  // namespace na
