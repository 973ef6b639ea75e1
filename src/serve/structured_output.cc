#include "serve/structured_output.h"

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "llm/grammar/ebnf.h"
#include "llm/grammar/json_schema.h"
#include "llm/grammar/regex.h"

namespace modelcar::serve {
namespace {

using llm::grammar::CompiledGrammar;
using llm::grammar::Grammar;
using llm::grammar::GrammarRuntime;
using llm::grammar::Matcher;
using llm::grammar::TokenTrie;

// A runtime past this many interned states (each with a 1 KiB transition row and maybe a token
// mask) is replaced for new requests.
constexpr size_t kMaxRuntimeStates = 20000;

class GrammarConstraint : public TokenConstraint {
 public:
  GrammarConstraint(std::shared_ptr<GrammarRuntime> runtime, std::shared_ptr<const TokenTrie> trie,
                    const llm::Tokenizer& tokenizer, std::vector<int32_t> eos,
                    int32_t reasoning_end)
      : matcher_(std::move(runtime), std::move(trie), std::move(eos)),
        tokenizer_(tokenizer),
        waiting_(reasoning_end >= 0),
        reasoning_end_(reasoning_end) {}

  const TokenMask* Allowed() override {
    if (waiting_) return nullptr;
    return &matcher_.Allowed();
  }

  bool Accept(int32_t token) override {
    if (waiting_) {
      if (token == reasoning_end_) waiting_ = false;
      return false;
    }
    switch (matcher_.Accept(token, tokenizer_.TokenBytes(token))) {
      case Matcher::Result::kContinue:
        return false;
      case Matcher::Result::kEnded:
      case Matcher::Result::kRejected:  // never sampled from the mask; ends the output anyway
        return true;
    }
    return true;
  }

 private:
  Matcher matcher_;
  const llm::Tokenizer& tokenizer_;
  bool waiting_;
  int32_t reasoning_end_;
};

}  // namespace

Result<Grammar> StructuredGrammar(const StructuredOutput& so) {
  llm::grammar::JsonGrammarOptions jo;
  jo.any_whitespace = !so.disable_any_whitespace;
  jo.whitespace_pattern = so.whitespace_pattern;
  jo.no_additional_properties = so.disable_additional_properties;
  switch (so.kind) {
    case StructuredOutput::Kind::kJsonSchema: {
      ASSIGN_OR_RETURN(auto schema, ParseJsonLimited<nlohmann::ordered_json>(so.spec, "schema"));
      return llm::grammar::JsonSchemaGrammar(schema, jo);
    }
    case StructuredOutput::Kind::kJsonObject:
      return llm::grammar::AnyJsonGrammar(jo);
    case StructuredOutput::Kind::kRegex: {
      Grammar g;
      int r = g.AddRule("root");
      ASSIGN_OR_RETURN(llm::grammar::Frag f, llm::grammar::RegexFrag(so.spec, &g.nfa(r)));
      g.SetBody(r, f);
      return g;
    }
    case StructuredOutput::Kind::kChoice: {
      auto choices = nlohmann::json::parse(so.spec);
      Grammar g;
      int r = g.AddRule("root");
      llm::grammar::Nfa& n = g.nfa(r);
      std::vector<llm::grammar::Frag> alts;
      for (const auto& c : choices) alts.push_back(n.Literal(c.get<std::string>()));
      g.SetBody(r, n.Alt(alts));
      return g;
    }
    case StructuredOutput::Kind::kGrammar:
      return llm::grammar::EbnfGrammar(so.spec);
    case StructuredOutput::Kind::kNone:
      break;
  }
  return InvalidArgument("no structured output requested");
}

std::shared_ptr<const TokenTrie> MakeTokenTrie(const llm::Tokenizer& tokenizer, int vocab_size) {
  std::vector<std::string> bytes(std::max(vocab_size, tokenizer.vocab_size()));
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (!tokenizer.IsSpecial(id)) bytes[id] = std::string(tokenizer.TokenBytes(id));
  }
  return std::make_shared<const TokenTrie>(bytes);
}

Result<std::shared_ptr<GrammarRuntime>> GrammarCache::Get(const StructuredOutput& so) {
  const std::string key = so.CacheKey();
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      Entry& e = lru_.front();
      if (e.runtime->num_states() > kMaxRuntimeStates) {
        e.runtime = std::make_shared<GrammarRuntime>(e.grammar);
      }
      return e.runtime;
    }
  }
  // Compiled outside the lock: a large schema takes milliseconds.
  ASSIGN_OR_RETURN(Grammar g, StructuredGrammar(so));
  ASSIGN_OR_RETURN(auto compiled, CompiledGrammar::Compile(g));
  auto runtime = std::make_shared<GrammarRuntime>(compiled);
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) return it->second->runtime;
  lru_.push_front({key, compiled, runtime});
  index_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  return runtime;
}

TokenConstraintFactory GrammarConstraintFactory(std::shared_ptr<GrammarRuntime> runtime,
                                                std::shared_ptr<const TokenTrie> trie,
                                                const llm::Tokenizer& tokenizer,
                                                std::vector<int32_t> eos, int32_t reasoning_end) {
  return [runtime, trie, &tokenizer, eos, reasoning_end]() -> std::unique_ptr<TokenConstraint> {
    return std::make_unique<GrammarConstraint>(runtime, trie, tokenizer, eos, reasoning_end);
  };
}

}  // namespace modelcar::serve
