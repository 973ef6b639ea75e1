// Byte-level BPE over raw bytes: a piece starts as one symbol per byte and adjacent symbols are
// merged by merge rank (lowest first, leftmost on ties) until no ranked pair is left, exactly as
// HF tokenizers' BPE model does. Tokens are held as raw bytes (not the byte-level alphabet), so
// the merge table is keyed by pairs of token ids.
//
// Thread safety: after construction all methods are const and safe to call from many threads;
// the word cache inside is internally synchronized.
#ifndef MODELCAR_LLM_TOKENIZER_BPE_H_
#define MODELCAR_LLM_TOKENIZER_BPE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "llm/tokenizer/string_id_map.h"

namespace modelcar::llm {

// Open-addressing hash map from a 64-bit key to a 64-bit value; insert-only, built once.
class PairMap {
 public:
  void Reserve(size_t n);
  // Returns false if `key` was present (the value is left unchanged).
  bool Insert(uint64_t key, uint64_t value);
  // Returns a pointer to the value or nullptr.
  const uint64_t* Find(uint64_t key) const {
    if (slots_.empty()) return nullptr;
    size_t i = Hash(key) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return size_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key = kEmpty;
    uint64_t value = 0;
  };
  static size_t Hash(uint64_t k) { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> 20); }
  void Grow();
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Hash for unordered maps keyed by std::string that are searched with std::string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // `token_bytes[id]` is the raw byte string of token id (empty for ids that are not BPE
  // tokens, e.g. added tokens). `merges` are (left, right) in rank order. `unk_id` is -1 when
  // the model has no unknown token (bytes without a token are then dropped, as HF does).
  // Fails (InvalidArgument naming the merge index) if a merge's result is not in the vocabulary
  // or a merge repeats.
  static Result<BpeModel> Create(const std::vector<std::string>& token_bytes,
                                 const std::vector<std::pair<int32_t, int32_t>>& merges,
                                 bool ignore_merges, int32_t unk_id);
  // Create in two steps, for a loader that resolves the merges while the vocabulary is indexed:
  // FromVocabulary indexes `token_bytes` (with room for `merges_hint` merges), AddMerges (once,
  // with the same `token_bytes`) adds the merges and fails as Create does.
  static BpeModel FromVocabulary(const std::vector<std::string>& token_bytes, size_t merges_hint);
  Status AddMerges(const std::vector<std::string>& token_bytes,
                   const std::vector<std::pair<int32_t, int32_t>>& merges, bool ignore_merges,
                   int32_t unk_id);

  BpeModel(BpeModel&&) noexcept;
  BpeModel& operator=(BpeModel&&) noexcept;
  ~BpeModel();

  // Appends the ids of one pre-tokenized piece (raw bytes) to `out`.
  void Encode(std::string_view piece, std::vector<int32_t>* out) const;

  // The two merge loops, exposed for tests (Encode picks one by length, without the cache).
  void MergeQuadratic(std::string_view piece, std::vector<int32_t>* out) const;
  void MergeHeap(std::string_view piece, std::vector<int32_t>* out) const;

  // Id of the token whose raw bytes are `bytes`, or -1.
  int32_t Find(std::string_view bytes) const;

  size_t num_merges() const { return merges_.size(); }

 private:
  BpeModel();
  struct Cache;
  // (rank << 32 | merged id) of the pair, or nullptr.
  const uint64_t* Lookup(int32_t left, int32_t right) const {
    return merges_.Find((static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                        static_cast<uint32_t>(right));
  }
  // Seeds `ids` with the byte tokens of `piece`.
  void SeedBytes(std::string_view piece, std::vector<int32_t>* ids) const;

  std::array<int32_t, 256> byte_token_{};
  PairMap merges_;
  StringIdMap by_bytes_;
  bool ignore_merges_ = false;
  int32_t unk_id_ = -1;
  std::unique_ptr<Cache> cache_;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_BPE_H_
