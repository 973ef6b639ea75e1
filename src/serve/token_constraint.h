// Constrained decoding at the sampler: a per-sequence state machine that may restrict the next
// token to a set of ids, given as a bitmask over the vocabulary (the runner masks every other
// logit to -inf before sampling), and may declare the output complete. The scheduler asks Allowed()
// before each sample of the sequence and calls Accept() with each sampled token; when Accept()
// returns true the sequence ends with finish_reason "stop".
//
// Reported logprobs of a constrained step are of the masked distribution (a forced token: 0).
//
// Thread safety: none; a constraint belongs to one sequence and is used by the engine thread.
#ifndef MODELCAR_SERVE_TOKEN_CONSTRAINT_H_
#define MODELCAR_SERVE_TOKEN_CONSTRAINT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace modelcar::serve {

// Bit i set: token i allowed. Ids beyond the mask are not allowed.
using TokenMask = std::vector<uint64_t>;

inline bool MaskAllows(const TokenMask& mask, int32_t id) {
  return id >= 0 && static_cast<size_t>(id >> 6) < mask.size() &&
         ((mask[id >> 6] >> (id & 63)) & 1);
}
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

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // The ids allowed next (at least one); nullptr: any token. The pointer stays valid until the
  // next Accept().
  virtual const TokenMask* Allowed() = 0;
  // Records the sampled token; true when the constrained output is complete.
  virtual bool Accept(int32_t token) = 0;
};

// Makes the constraint of one sequence (called once per choice). Thread-safe.
using TokenConstraintFactory = std::function<std::unique_ptr<TokenConstraint>()>;

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_TOKEN_CONSTRAINT_H_
