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

#include "llm/grammar/token_mask.h"

namespace modelcar::serve {

using llm::grammar::MaskAllow;
using llm::grammar::MaskAllows;
using llm::grammar::MaskIds;
using llm::grammar::TokenMask;

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
