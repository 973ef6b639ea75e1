#include "llm/tokenizer/string_id_map.h"

#include <algorithm>
#include <functional>

#include "base/resident.h"

namespace modelcar::llm {

uint64_t StringIdMap::Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

size_t StringIdMap::Probe(std::string_view key, uint64_t hash) const {
  const size_t mask = slots_.size() - 1;
  const auto tag = static_cast<uint32_t>(hash >> 32);
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.id < 0) return i;
    if (s.hash == tag && std::string_view(arena_).substr(s.offset, s.length) == key) return i;
  }
}

void StringIdMap::Rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  AssignResident(slots_, capacity, Slot{});
  const size_t mask = capacity - 1;
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    size_t i = Hash(std::string_view(arena_).substr(s.offset, s.length)) & mask;
    while (slots_[i].id >= 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void StringIdMap::Reserve(size_t keys, size_t key_bytes) {
  size_t capacity = 16;
  while (capacity * 3 < keys * 4) capacity <<= 1;
  if (capacity > slots_.size()) Rehash(capacity);
  if (key_bytes > arena_.capacity()) ReserveResident(arena_, key_bytes);
}

bool StringIdMap::Insert(std::string_view key, int32_t id) {
  if (4 * (size_ + 1) > 3 * slots_.size()) Reserve(std::max<size_t>(size_ + 1, slots_.size()), 0);
  const uint64_t hash = Hash(key);
  Slot& s = slots_[Probe(key, hash)];
  if (s.id >= 0) return false;
  s = Slot{static_cast<uint32_t>(hash >> 32), id, static_cast<uint32_t>(arena_.size()),
           static_cast<uint32_t>(key.size())};
  arena_.append(key);
  ++size_;
  return true;
}

void StringIdMap::Set(std::string_view key, int32_t id) {
  if (!Insert(key, id)) slots_[Probe(key, Hash(key))].id = id;
}

int32_t StringIdMap::Find(std::string_view key) const {
  if (slots_.empty()) return -1;
  return slots_[Probe(key, Hash(key))].id;
}

}  // namespace modelcar::llm
