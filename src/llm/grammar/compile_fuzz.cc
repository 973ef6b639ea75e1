// Fuzz target: the structured-output compilers, which take their input from any request
// (response_format json_schema, structured_outputs regex / grammar), then the compiled grammar
// run over bytes and tokens.
//   input: selector byte (0: JSON Schema, 1: regex, 2: EBNF/Lark), the spec, "\n--8<--\n", then
//   bytes to walk through the grammar; the vocabulary is the walk's bytes cut into 1-4 byte tokens
//   (at most 64).
// Properties: compiling is an error or a grammar, never a crash or a hang (the limits bound it);
// a token is in the mask exactly when its bytes keep the state alive; a JSON Schema grammar that
// can end after the walk has read a text that parses as JSON.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/json.h"
#include "fuzz_check.h"
#include "llm/grammar/ebnf.h"
#include "llm/grammar/json_schema.h"
#include "llm/grammar/matcher.h"
#include "llm/grammar/regex.h"

using namespace modelcar;
using namespace modelcar::llm::grammar;

namespace {

Result<Grammar> Build(uint8_t kind, std::string_view spec) {
  switch (kind) {
    case 0: {
      ASSIGN_OR_RETURN(auto schema, ParseJsonLimited<nlohmann::ordered_json>(spec, "schema"));
      JsonGrammarOptions options;
      options.any_whitespace = false;  // compact, so the walk's bytes reach deeper
      return JsonSchemaGrammar(schema, options);
    }
    case 1: {
      Grammar g;
      int r = g.AddRule("root");
      ASSIGN_OR_RETURN(Frag f, RegexFrag(spec, &g.nfa(r)));
      g.SetBody(r, f);
      return g;
    }
    default:
      return EbnfGrammar(spec);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // larger specs only repeat what smaller ones reach
  fuzz::FuzzInput in(data, size);
  const uint8_t kind = in.Byte() % 3;
  std::string_view spec = in.Part();
  std::string_view walk = in.rest();
  auto grammar = Build(kind, spec);
  if (!grammar.ok()) return 0;
  // Smaller than serve's limits, so one input stays well inside libFuzzer's time budget.
  CompileLimits limits;
  limits.max_nfa_states = 200'000;
  limits.max_dfa_states = 20'000;
  auto compiled = CompiledGrammar::Compile(*grammar, limits);
  if (!compiled.ok()) return 0;

  std::vector<std::string> vocab;
  for (size_t i = 0; i < walk.size() && vocab.size() < 64;) {
    size_t n = 1 + (static_cast<uint8_t>(walk[i]) % 4);
    vocab.emplace_back(walk.substr(i, n));
    i += n;
  }
  vocab.emplace_back();  // a special token: never allowed
  TokenTrie trie(vocab);
  GrammarRuntime runtime(*compiled);

  int state = runtime.Initial();
  size_t read = 0;
  for (size_t t = 0; t < vocab.size() && state != GrammarRuntime::kDead; ++t) {
    auto mask = runtime.Mask(state, trie);
    for (size_t id = 0; id < vocab.size(); ++id) {
      const bool allowed = MaskAllows(*mask, static_cast<int32_t>(id));
      const bool alive =
          !vocab[id].empty() && runtime.StepBytes(state, vocab[id]) != GrammarRuntime::kDead;
      FUZZ_CHECK(allowed == alive);
    }
    state = runtime.StepBytes(state, vocab[t]);
    if (state != GrammarRuntime::kDead) read += vocab[t].size();
  }
  if (kind == 0 && state != GrammarRuntime::kDead && runtime.CanEnd(state)) {
    FUZZ_CHECK(nlohmann::json::accept(walk.substr(0, read)));
  }
  return 0;
}
