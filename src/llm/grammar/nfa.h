// The construction side of modelcar's grammars: a byte-level NFA per rule, built from fragments.
//
// A rule's NFA has byte-range edges, epsilon edges and call edges (the callee rule must match
// there, then the caller continues). Everything above (regexes, JSON schemas, EBNF) builds rules
// through Nfa's fragment helpers; grammar.h turns each rule into a DFA.
//
// Text is UTF-8: CharSet holds code point ranges and Nfa::Chars() emits the byte sequences of
// exactly those code points (never an invalid or overlong encoding, never a surrogate).
//
// Thread-compatible value types.
#ifndef MODELCAR_LLM_GRAMMAR_NFA_H_
#define MODELCAR_LLM_GRAMMAR_NFA_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace modelcar::llm::grammar {

// A set of Unicode code points as sorted, disjoint, non-adjacent ranges.
class CharSet {
 public:
  CharSet() = default;
  static CharSet Of(uint32_t lo, uint32_t hi);
  static CharSet Any();  // every code point except surrogates

  CharSet& Add(uint32_t lo, uint32_t hi);
  CharSet& Add(const CharSet& other);
  CharSet& AddCaseVariants();  // ASCII letters: both cases
  CharSet Negated() const;     // within Any()
  CharSet Minus(const CharSet& other) const;
  bool empty() const { return ranges_.empty(); }
  const std::vector<std::pair<uint32_t, uint32_t>>& ranges() const { return ranges_; }

 private:
  void Normalize();
  std::vector<std::pair<uint32_t, uint32_t>> ranges_;
};

// A piece of NFA with one entry and one exit state.
struct Frag {
  int start = -1;
  int end = -1;
};

class Nfa {
 public:
  struct Edge {
    enum Kind : uint8_t { kBytes, kEpsilon, kCall } kind;
    uint8_t lo = 0, hi = 0;  // kBytes: [lo, hi]
    int rule = -1;           // kCall
    int to = -1;
  };

  int NewState();
  void AddBytes(int from, uint8_t lo, uint8_t hi, int to);
  void AddEpsilon(int from, int to);
  void AddCall(int from, int rule, int to);

  // Fragments. Each call creates fresh states (fragments are never shared).
  Frag Empty();
  Frag Bytes(uint8_t lo, uint8_t hi);
  Frag Literal(std::string_view bytes);
  Frag Chars(const CharSet& set);  // one code point of `set`, UTF-8 encoded
  Frag Call(int rule);
  Frag Seq(const std::vector<Frag>& parts);
  Frag Alt(const std::vector<Frag>& parts);
  Frag Optional(Frag f);
  Frag Star(Frag f);  // zero or more
  Frag Plus(Frag f);  // one or more
  // `make` min..max times (max < 0: unbounded); `make` builds a fresh copy per repetition.
  Frag Repeat(const std::function<Frag()>& make, int min, int max);

  int size() const { return static_cast<int>(edges_.size()); }
  const std::vector<Edge>& edges(int state) const { return edges_[state]; }

 private:
  std::vector<std::vector<Edge>> edges_;
};

}  // namespace modelcar::llm::grammar

#endif  // MODELCAR_LLM_GRAMMAR_NFA_H_
