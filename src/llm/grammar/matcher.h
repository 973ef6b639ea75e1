// Running a compiled grammar (grammar.h) over bytes and tokens.
//
// A parser state is a set of stacks of (rule, DFA state) frames: the top frame is where bytes
// are read, the frames below are where callers continue once their callee ends. Frames and
// states are interned by GrammarRuntime, so a state is a small integer, its transition on a byte
// is computed once, and so is its token mask: the next sequence (or request) in the same state
// costs a table lookup. That sharing is what makes constrained decoding nearly free once a schema
// has been seen.
//
// Token masks walk the vocabulary in sorted order (TokenTrie), so a shared prefix is advanced
// once and a dead prefix skips every token that starts with it.
//
// Thread safety: a GrammarRuntime serializes its methods with a mutex; a Matcher is one
// sequence's state (thread-compatible). TokenTrie is immutable.
#ifndef MODELCAR_LLM_GRAMMAR_MATCHER_H_
#define MODELCAR_LLM_GRAMMAR_MATCHER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "llm/grammar/grammar.h"
#include "llm/grammar/token_mask.h"

namespace modelcar::llm::grammar {

// The vocabulary as byte strings, sorted, with each token's common prefix length with the
// previous one. Tokens with empty bytes (special tokens) are left out.
class TokenTrie {
 public:
  // `bytes[id]`: the bytes of token id (empty: never produced by a grammar).
  explicit TokenTrie(const std::vector<std::string>& bytes);
  int vocab_size() const { return vocab_size_; }

 private:
  friend class GrammarRuntime;
  int vocab_size_ = 0;
  std::vector<std::string> bytes_;  // by sorted position
  std::vector<int32_t> ids_;        // by sorted position
  std::vector<int32_t> lcp_;        // with the previous sorted token
  int max_len_ = 0;
};

class GrammarRuntime {
 public:
  static constexpr int kDead = -1;

  // `mask_budget_bytes`: token masks kept at most (beyond it the cached masks are dropped and
  // recomputed on demand).
  explicit GrammarRuntime(std::shared_ptr<const CompiledGrammar> grammar,
                          size_t mask_budget_bytes = size_t{32} << 20);
  GrammarRuntime(const GrammarRuntime&) = delete;
  GrammarRuntime& operator=(const GrammarRuntime&) = delete;

  int Initial() const { return initial_; }
  // The state after `byte` (kDead when no stack can read it).
  int Step(int state, uint8_t byte);
  int StepBytes(int state, std::string_view bytes);
  // The grammar may end in `state`; some byte may continue it.
  bool CanEnd(int state);
  bool HasBytes(int state);
  // The tokens of `trie` whose bytes keep `state` alive (not EOS: the caller adds it when
  // CanEnd). Cached per state; the pointer stays valid while this runtime lives.
  std::shared_ptr<const TokenMask> Mask(int state, const TokenTrie& trie);

  // Interned frames and states so far (for the owner's size policy and tests).
  size_t num_states();
  size_t num_frames();

 private:
  struct Frame {
    int32_t rule, state, parent;
    bool operator==(const Frame& o) const {
      return rule == o.rule && state == o.state && parent == o.parent;
    }
  };
  struct FrameHash {
    size_t operator()(const Frame& f) const;
  };
  struct KeyHash {
    size_t operator()(const std::vector<int32_t>& v) const;
  };
  struct State {
    std::vector<int32_t> tops;  // frames whose top can read a byte; sorted
    bool can_end = false;
    std::unique_ptr<int32_t[]> row;  // 256 transitions, -2 = not computed yet
    std::shared_ptr<const TokenMask> mask;
  };

  int InternFrame(Frame f);
  // Adds the tops reachable from frame `f` without reading a byte.
  void Expand(int32_t f, std::vector<int32_t>* tops, bool* can_end, std::vector<int32_t>* seen,
              int depth);
  int InternState(std::vector<int32_t> tops, bool can_end);
  int StepLocked(int state, uint8_t byte);
  TokenMask ComputeMask(int state, const TokenTrie& trie);

  std::shared_ptr<const CompiledGrammar> grammar_;
  std::mutex mu_;
  std::vector<Frame> frames_;
  std::unordered_map<Frame, int32_t, FrameHash> frame_ids_;
  std::vector<State> states_;
  std::unordered_map<std::vector<int32_t>, int32_t, KeyHash> state_ids_;
  int initial_ = kDead;
  size_t mask_budget_ = 0;
  size_t mask_bytes_ = 0;
};

// One sequence's position in a grammar: the allowed tokens now, and tokens accepted one by one.
class Matcher {
 public:
  // `eos`: the ids that may end the output once the grammar can end.
  Matcher(std::shared_ptr<GrammarRuntime> runtime, std::shared_ptr<const TokenTrie> trie,
          std::vector<int32_t> eos);

  // The allowed tokens (grammar tokens, plus EOS when the grammar can end; only EOS once nothing
  // can follow). Valid until the next Accept().
  const TokenMask& Allowed();

  enum class Result { kContinue, kEnded, kRejected };
  // kEnded: an EOS token was accepted where the grammar can end. kRejected: the token does not
  // fit (the state is unchanged).
  Result Accept(int32_t token, std::string_view bytes);

  bool CanEnd() { return runtime_->CanEnd(state_); }

 private:
  std::shared_ptr<GrammarRuntime> runtime_;
  std::shared_ptr<const TokenTrie> trie_;
  std::vector<int32_t> eos_;
  int state_;
  std::shared_ptr<const TokenMask> base_;
  TokenMask mask_;
  int mask_state_ = -2;
};

}  // namespace modelcar::llm::grammar

#endif  // MODELCAR_LLM_GRAMMAR_MATCHER_H_
