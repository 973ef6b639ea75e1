// Internal to the tokenizer module: a hash map from byte strings to token ids, built once from
// ~10^5 keys (a vocabulary) and then only read. The keys are copied into one arena string and
// the slots are one array (open addressing, linear probing), so building it costs a few
// allocations that grow by doubling instead of one node (and often one key) per entry, and a
// lookup reads one slot and the key's bytes.
//
// Keys are byte strings of any content (empty included) totalling under 4 GiB.
// Thread safety: const methods may run concurrently; any other call needs exclusive access.
#ifndef MODELCAR_LLM_TOKENIZER_STRING_ID_MAP_H_
#define MODELCAR_LLM_TOKENIZER_STRING_ID_MAP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace modelcar::llm {

class StringIdMap {
 public:
  // Makes room for `keys` keys of `key_bytes` bytes in all, so that adding them allocates nothing.
  void Reserve(size_t keys, size_t key_bytes);
  // Adds key -> id (id >= 0) unless key is present; returns false, leaving its id, if it was.
  bool Insert(std::string_view key, int32_t id);
  // Maps key to id (id >= 0), adding the key or replacing its id.
  void Set(std::string_view key, int32_t id);
  // The id of key, or -1.
  int32_t Find(std::string_view key) const;
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t hash = 0;
    int32_t id = -1;  // -1: empty
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  static uint64_t Hash(std::string_view key);
  // The slot holding key, or the empty slot where it would go.
  size_t Probe(std::string_view key, uint64_t hash) const;
  void Rehash(size_t capacity);

  std::vector<Slot> slots_;  // a power of two, at most 3/4 full
  std::string arena_;        // the keys, back to back
  size_t size_ = 0;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_STRING_ID_MAP_H_
