// A grammar as a set of rules, each a byte-level NFA (nfa.h) that may call other rules, and its
// compiled form: one DFA per rule over byte classes, with call edges. Calls make the language
// context-free (nested JSON, recursive $ref, EBNF); everything else is resolved into the DFAs.
//
//   Grammar g;
//   int root = g.AddRule("root");
//   Nfa& n = g.nfa(root);
//   g.SetBody(root, n.Seq({n.Literal("a"), n.Star(n.Literal("b"))}));
//   auto compiled = CompiledGrammar::Compile(g);   // then matcher.h walks it
//
// Compile removes the states from which the rule can no longer complete, so every prefix a DFA
// accepts can be finished. Rules whose NFA or DFA outgrow the limits are refused
// (InvalidArgument "grammar too large"), which bounds the memory one request can claim.
//
// Thread safety: Grammar is thread-compatible; CompiledGrammar is immutable after Compile.
#ifndef MODELCAR_LLM_GRAMMAR_GRAMMAR_H_
#define MODELCAR_LLM_GRAMMAR_GRAMMAR_H_

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "llm/grammar/nfa.h"

namespace modelcar::llm::grammar {

class Grammar {
 public:
  // A new rule (body set later with SetBody); returns its id. References returned by nfa() stay
  // valid.
  int AddRule(std::string name);
  Nfa& nfa(int rule) { return rules_[rule].nfa; }
  void SetBody(int rule, Frag body) { rules_[rule].body = body; }
  void set_root(int rule) { root_ = rule; }

  int root() const { return root_; }
  int num_rules() const { return static_cast<int>(rules_.size()); }
  const std::string& name(int rule) const { return rules_[rule].name; }
  const Nfa& nfa(int rule) const { return rules_[rule].nfa; }
  Frag body(int rule) const { return rules_[rule].body; }
  // NFA states over all rules.
  int64_t size() const;

 private:
  struct Rule {
    std::string name;
    Nfa nfa;
    Frag body;
  };
  std::deque<Rule> rules_;  // a deque: AddRule keeps references to other rules' NFAs valid
  int root_ = 0;
};

// One rule as a DFA. States are 0..size()-1; Next() is -1 where no byte continues.
struct Dfa {
  int start = 0;
  int num_classes = 1;
  std::array<uint8_t, 256> byte_class{};
  std::vector<int32_t> next;                                    // [state * num_classes + class]
  std::vector<uint8_t> accept;                                  // the rule may end here
  std::vector<uint8_t> has_bytes;                               // some byte continues from here
  std::vector<std::vector<std::pair<int32_t, int32_t>>> calls;  // (rule, state after the call)

  int size() const { return static_cast<int>(accept.size()); }
  int Next(int state, uint8_t byte) const { return next[state * num_classes + byte_class[byte]]; }
};

// InvalidArgument naming a rule that can call itself before reading a byte (the matcher could
// not run it). Compile checks it.
Status CheckNoLeftRecursion(const Grammar& grammar);

struct CompileLimits {
  int64_t max_nfa_states = 4'000'000;
  int64_t max_dfa_states = 300'000;
};

class CompiledGrammar {
 public:
  static Result<std::shared_ptr<const CompiledGrammar>> Compile(const Grammar& grammar,
                                                                const CompileLimits& limits = {});

  int root() const { return root_; }
  int num_rules() const { return static_cast<int>(rules_.size()); }
  const Dfa& rule(int r) const { return rules_[r]; }
  // DFA states over all rules (for limits and tests).
  int64_t size() const;

 private:
  std::vector<Dfa> rules_;
  int root_ = 0;
};

}  // namespace modelcar::llm::grammar

#endif  // MODELCAR_LLM_GRAMMAR_GRAMMAR_H_
