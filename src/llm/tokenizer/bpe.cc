#include "llm/tokenizer/bpe.h"

#include <fmt/format.h>

#include <functional>
#include <mutex>
#include <queue>
#include <utility>

#include "base/resident.h"

namespace modelcar::llm {

void PairMap::Reserve(size_t n) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  AssignResident(slots_, cap, Slot{});
  mask_ = cap - 1;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.key != kEmpty) Insert(s.key, s.value);
  }
}

void PairMap::Grow() { Reserve(slots_.empty() ? 8 : slots_.size()); }

bool PairMap::Insert(uint64_t key, uint64_t value) {
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  size_t i = Hash(key) & mask_;
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) return false;
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{key, value};
  ++size_;
  return true;
}

// Pieces up to this many bytes are cached (longer ones are rare and long to hash).
constexpr size_t kMaxCachedPiece = 64;
constexpr size_t kCacheShards = 32;
constexpr size_t kMaxEntriesPerShard = 4096;
// Pieces up to this many bytes use the quadratic loop (fewer allocations, faster for words).
constexpr size_t kQuadraticMax = 48;

struct BpeModel::Cache {
  struct Shard {
    std::mutex mu;
    StringMap<std::vector<int32_t>> map;
  };
  std::array<Shard, kCacheShards> shards;
};

BpeModel::BpeModel() : cache_(std::make_unique<Cache>()) {}
BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;
BpeModel::~BpeModel() = default;

Result<BpeModel> BpeModel::Create(const std::vector<std::string>& token_bytes,
                                  const std::vector<std::pair<int32_t, int32_t>>& merges,
                                  bool ignore_merges, int32_t unk_id) {
  BpeModel m = FromVocabulary(token_bytes, merges.size());
  RETURN_IF_ERROR(m.AddMerges(token_bytes, merges, ignore_merges, unk_id));
  return m;
}

BpeModel BpeModel::FromVocabulary(const std::vector<std::string>& token_bytes, size_t merges_hint) {
  BpeModel m;
  m.byte_token_.fill(-1);
  size_t bytes = 0;
  for (const std::string& b : token_bytes) bytes += b.size();
  m.by_bytes_.Reserve(token_bytes.size(), bytes);
  for (size_t id = 0; id < token_bytes.size(); ++id) {
    const std::string& b = token_bytes[id];
    if (b.empty()) continue;
    m.by_bytes_.Insert(b, static_cast<int32_t>(id));  // first id wins on duplicates
    if (b.size() == 1 && m.byte_token_[static_cast<uint8_t>(b[0])] < 0) {
      m.byte_token_[static_cast<uint8_t>(b[0])] = static_cast<int32_t>(id);
    }
  }
  m.merges_.Reserve(merges_hint);
  return m;
}

Status BpeModel::AddMerges(const std::vector<std::string>& token_bytes,
                           const std::vector<std::pair<int32_t, int32_t>>& merges,
                           bool ignore_merges, int32_t unk_id) {
  ignore_merges_ = ignore_merges;
  unk_id_ = unk_id;
  merges_.Reserve(merges.size());
  std::string merged;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    auto [a, b] = merges[rank];
    auto valid = [&](int32_t id) {
      return id >= 0 && static_cast<size_t>(id) < token_bytes.size() && !token_bytes[id].empty();
    };
    if (!valid(a) || !valid(b)) {
      return InvalidArgument(fmt::format("merge {} names a token outside the vocabulary", rank));
    }
    merged.assign(token_bytes[a]).append(token_bytes[b]);
    const int32_t id = by_bytes_.Find(merged);
    if (id < 0) {
      return InvalidArgument(
          fmt::format("merge {}: the merged token is not in the vocabulary", rank));
    }
    uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    uint64_t value = (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(id);
    // A repeated pair keeps its first (lowest) rank, as HF tokenizers does.
    merges_.Insert(key, value);
  }
  return Status();
}

int32_t BpeModel::Find(std::string_view bytes) const { return by_bytes_.Find(bytes); }

void BpeModel::SeedBytes(std::string_view piece, std::vector<int32_t>* ids) const {
  for (char ch : piece) {
    int32_t id = byte_token_[static_cast<uint8_t>(ch)];
    if (id < 0) id = unk_id_;
    if (id >= 0) ids->push_back(id);
  }
}

void BpeModel::MergeQuadratic(std::string_view piece, std::vector<int32_t>* out) const {
  size_t base = out->size();
  SeedBytes(piece, out);
  int32_t* ids = out->data() + base;
  size_t n = out->size() - base;
  while (n > 1) {
    uint64_t best = ~uint64_t{0};
    size_t best_pos = 0;
    for (size_t k = 0; k + 1 < n; ++k) {
      const uint64_t* v = Lookup(ids[k], ids[k + 1]);
      if (v != nullptr && *v < best) {  // rank in the high half: lowest rank wins, then leftmost
        best = *v;
        best_pos = k;
      }
    }
    if (best == ~uint64_t{0}) break;
    ids[best_pos] = static_cast<int32_t>(best & 0xFFFFFFFFu);
    for (size_t k = best_pos + 1; k + 1 < n; ++k) ids[k] = ids[k + 1];
    --n;
  }
  out->resize(base + n);
}

void BpeModel::MergeHeap(std::string_view piece, std::vector<int32_t>* out) const {
  struct Sym {
    int32_t id;
    int32_t prev;
    int32_t next;
  };
  struct Cand {
    uint32_t rank;
    int32_t pos;
    int32_t left;
    int32_t right;
    int32_t merged;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<int32_t> seed;
  seed.reserve(piece.size());
  SeedBytes(piece, &seed);
  const auto n = static_cast<int32_t>(seed.size());
  std::vector<Sym> syms(static_cast<size_t>(n));
  for (int32_t k = 0; k < n; ++k) syms[k] = Sym{seed[k], k - 1, k + 1 < n ? k + 1 : -1};
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || syms[pos].next < 0) return;
    int32_t l = syms[pos].id, r = syms[syms[pos].next].id;
    if (const uint64_t* v = Lookup(l, r)) {
      heap.push(
          Cand{static_cast<uint32_t>(*v >> 32), pos, l, r, static_cast<int32_t>(*v & 0xFFFFFFFFu)});
    }
  };
  for (int32_t k = 0; k + 1 < n; ++k) push(k);
  while (!heap.empty()) {
    Cand c = heap.top();
    heap.pop();
    Sym& s = syms[c.pos];
    if (s.id != c.left || s.next < 0 || syms[s.next].id != c.right) continue;  // stale
    Sym& r = syms[s.next];
    s.id = c.merged;
    s.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.pos;
    r.id = -1;
    push(s.prev);
    push(c.pos);
  }
  for (int32_t k = n > 0 ? 0 : -1; k >= 0; k = syms[k].next) out->push_back(syms[k].id);
}

void BpeModel::Encode(std::string_view piece, std::vector<int32_t>* out) const {
  if (piece.empty()) return;
  if (piece.size() == 1) {
    SeedBytes(piece, out);
    return;
  }
  if (ignore_merges_) {
    if (int32_t id = Find(piece); id >= 0) {
      out->push_back(id);
      return;
    }
  }
  if (piece.size() > kMaxCachedPiece) {
    MergeHeap(piece, out);
    return;
  }
  Cache::Shard& shard = cache_->shards[std::hash<std::string_view>{}(piece) % kCacheShards];
  {
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.map.find(piece);
    if (it != shard.map.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t base = out->size();
  if (piece.size() <= kQuadraticMax) {
    MergeQuadratic(piece, out);
  } else {
    MergeHeap(piece, out);
  }
  std::lock_guard<std::mutex> lock(shard.mu);
  if (shard.map.size() >= kMaxEntriesPerShard) shard.map.clear();
  shard.map.emplace(std::string(piece),
                    std::vector<int32_t>(out->begin() + static_cast<long>(base), out->end()));
}

}  // namespace modelcar::llm
