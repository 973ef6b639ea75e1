// Inside the JSON Schema compiler (json_schema.h): the Builder that turns a schema into one
// grammar, keyword by keyword. Its rule table (the grammar), the $refs still to build and the
// nesting depth are carried through every keyword, so the keyword compilers are members of one
// class, each defined in the file of its idea:
//   json_schema.cc          entry points, keyword checks and the dispatch on "type"
//   json_schema_lexical.cc  whitespace, punctuation, string characters, patterns, any JSON value
//   json_schema_string.cc   strings: lengths, pattern, format
//   json_schema_number.cc   integers and numbers with their bounds (integer_range.h)
//   json_schema_object.cc   objects: properties, required, additionalProperties
//   json_schema_array.cc    arrays: items, prefixItems, minItems, maxItems
//   json_schema_ref.cc      $ref: inlined, or a rule of its own when recursive or used often
// A schema the compiler refuses throws SchemaError (Fail); JsonSchemaGrammar turns it into
// InvalidArgument. Not part of the module's interface.
#ifndef MODELCAR_LLM_GRAMMAR_JSON_SCHEMA_BUILDER_H_
#define MODELCAR_LLM_GRAMMAR_JSON_SCHEMA_BUILDER_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "llm/grammar/grammar.h"
#include "llm/grammar/json_schema.h"
#include "llm/grammar/nfa.h"

namespace modelcar::llm::grammar::json_schema_internal {

using json = nlohmann::ordered_json;

struct SchemaError {
  std::string message;
};

// Throws SchemaError "what (at path)".
[[noreturn]] void Fail(const std::string& path, const std::string& what);

// Unbounded numbers, with digit counts every JSON parser reads into a double or int64 (at most 18
// integer digits, 15 fraction digits and a 2-digit exponent).
inline constexpr char kInteger[] = "-?(?:0|[1-9]\\d{0,17})";
inline constexpr char kNumber[] = "-?(?:0|[1-9]\\d{0,14})(?:\\.\\d{1,15})?(?:[eE][+-]?\\d{1,2})?";

class Builder {
 public:
  // `root` and `o` must outlive the builder.
  Builder(const json& root, const JsonGrammarOptions& o) : root_(root), o_(o) {}

  Grammar BuildSchema();  // the grammar of `root`
  Grammar BuildAny();     // any JSON object or array

 private:
  // ---- lexical pieces (json_schema_lexical.cc) ----
  Frag Ws(Nfa& n);
  Frag Punct(Nfa& n, char c);  // ws c ws, or c plus one space (", ", ": ") in compact mode
  Frag Open(Nfa& n, char c);
  Frag Close(Nfa& n, char c);
  static CharSet Unescaped();
  Frag StringChar(Nfa& n);  // one character of a JSON string: plain, or an escape
  Frag JsonStringFrag(Nfa& n);
  // `pattern` over the characters a JSON string holds unescaped; `what` names it in errors.
  Frag Regex(Nfa& n, const std::string& pattern, const std::string& path, const char* what);
  void AnyRules();  // the any_value / any_object / any_array rules, made once
  Frag AnyValue(Nfa& n);

  // ---- values (json_schema.cc) ----
  Frag Value(Nfa& n, const json& s, const std::string& path);
  Frag ValueInner(Nfa& n, const json& s, const std::string& path);
  Frag Typed(Nfa& n, const json& s, const std::string& t, const std::string& path);
  // A non-negative integer keyword (nullopt when absent).
  static std::optional<int64_t> Count(const json& s, const char* key, const std::string& path);

  // ---- keyword compilers, one file each ----
  Frag String(Nfa& n, const json& s, const std::string& path);
  static std::string FormatRegex(const std::string& format, const std::string& path);
  static std::optional<double> Bound(const json& s, const char* key, const std::string& path);
  Frag Number(Nfa& n, const json& s, const std::string& path, bool integer);
  Frag Object(Nfa& n, const json& s, const std::string& path);
  Frag Array(Nfa& n, const json& s, const std::string& path);
  const json& Resolve(const std::string& ref, const std::string& path);
  Frag Ref(Nfa& n, const json& s, const std::string& path);
  void BuildPendingRefs();

  const json& root_;
  const JsonGrammarOptions& o_;
  Grammar g_;
  int depth_ = 0;
  int any_value_ = -1, any_object_ = -1, any_array_ = -1;
  std::vector<std::string> expanding_;
  std::map<std::string, int> inlined_;
  std::map<std::string, int> ref_rules_;
  std::vector<std::string> pending_;
};

}  // namespace modelcar::llm::grammar::json_schema_internal

#endif  // MODELCAR_LLM_GRAMMAR_JSON_SCHEMA_BUILDER_H_
