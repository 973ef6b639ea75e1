// A set of token ids as a bitmask over the vocabulary: bit i set = token i allowed. Ids beyond
// the mask are not allowed. Used by the grammar matcher (matcher.h) and by every constraint the
// serving layer applies at the sampler.
//
// Thread safety: plain values and pure functions.
#ifndef MODELCAR_LLM_GRAMMAR_TOKEN_MASK_H_
#define MODELCAR_LLM_GRAMMAR_TOKEN_MASK_H_

#include <cstdint>
#include <vector>

namespace modelcar::llm::grammar {

using TokenMask = std::vector<uint64_t>;

inline bool MaskAllows(const TokenMask& mask, int32_t id) {
  return id >= 0 && static_cast<size_t>(id >> 6) < mask.size() &&
         ((mask[id >> 6] >> (id & 63)) & 1);
}
// Sets bit `id`, growing the mask as needed (negative ids are ignored).
inline void MaskAllow(TokenMask* mask, int32_t id) {
  if (id < 0) return;
  if (static_cast<size_t>(id >> 6) >= mask->size()) mask->resize((id >> 6) + 1, 0);
  (*mask)[id >> 6] |= uint64_t{1} << (id & 63);
}
// The allowed ids, ascending.
inline std::vector<int32_t> MaskIds(const TokenMask& mask) {
  std::vector<int32_t> ids;
  for (size_t w = 0; w < mask.size(); ++w) {
    for (uint64_t bits = mask[w]; bits; bits &= bits - 1) {
      ids.push_back(static_cast<int32_t>(w * 64 + __builtin_ctzll(bits)));
    }
  }
  return ids;
}

}  // namespace modelcar::llm::grammar

#endif  // MODELCAR_LLM_GRAMMAR_TOKEN_MASK_H_
