// Structured outputs by constrained decoding: a request's StructuredOutput (request.h) compiled
// by llm/grammar into a grammar over bytes, run per sequence as a TokenConstraint over the
// model's vocabulary (the runner masks every token the grammar rejects).
//
// GrammarCache keeps the compiled grammar and its runtime (interned parser states, their byte
// transitions and token masks) per distinct spec, least recently used first out: a second request
// with the same schema reuses every mask the first computed. A runtime that has grown past its
// budget is replaced for new requests (sequences running on it keep it alive).
//
// When the model reasons first (reasoning.h), the constraint waits until the reasoning has ended
// (`reasoning_end` token generated), as vLLM does.
//
// Thread safety: GrammarCache is thread-safe; constraints are per sequence (engine thread).
#ifndef MODELCAR_SERVE_STRUCTURED_OUTPUT_H_
#define MODELCAR_SERVE_STRUCTURED_OUTPUT_H_

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "llm/grammar/matcher.h"
#include "llm/tokenizer/tokenizer.h"
#include "serve/request.h"
#include "serve/token_constraint.h"

namespace modelcar::serve {

// The grammar a spec asks for (InvalidArgument naming what is unsupported, e.g. a JSON Schema
// keyword).
Result<llm::grammar::Grammar> StructuredGrammar(const StructuredOutput& so);

// The vocabulary as the grammar engine sees it: each token's bytes, special tokens excluded;
// `vocab_size` may exceed the tokenizer's (ids without bytes are never allowed).
std::shared_ptr<const llm::grammar::TokenTrie> MakeTokenTrie(const llm::Tokenizer& tokenizer,
                                                             int vocab_size);

class GrammarCache {
 public:
  explicit GrammarCache(size_t capacity = 64) : capacity_(capacity) {}

  // The runtime of `so`'s grammar, compiled on first use.
  Result<std::shared_ptr<llm::grammar::GrammarRuntime>> Get(const StructuredOutput& so);

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const llm::grammar::CompiledGrammar> grammar;
    std::shared_ptr<llm::grammar::GrammarRuntime> runtime;
  };
  const size_t capacity_;
  std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

// One constraint per sequence. `eos`: the ids that may end the output once the grammar can end.
// `reasoning_end` >= 0: the constraint starts after that token has been generated.
TokenConstraintFactory GrammarConstraintFactory(
    std::shared_ptr<llm::grammar::GrammarRuntime> runtime,
    std::shared_ptr<const llm::grammar::TokenTrie> trie, const llm::Tokenizer& tokenizer,
    std::vector<int32_t> eos, int32_t reasoning_end = -1);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_STRUCTURED_OUTPUT_H_
