// JSON Schema (and "any JSON") as grammars whose every complete output parses as JSON and
// validates against the schema, for the keywords supported:
//
//   type (incl. lists), enum, const, anyOf, oneOf (as anyOf), allOf (one schema), $ref (local:
//   "#", "#/$defs/..", "#/definitions/..", any "#/.." pointer; recursion allowed), properties,
//   required, additionalProperties (bool or schema), items, prefixItems, minItems, maxItems,
//   uniqueItems false, minLength, maxLength, pattern (the whole string), format (date, time,
//   date-time, duration, email, hostname, ipv4, ipv6, uuid), minimum / maximum /
//   exclusiveMinimum / exclusiveMaximum (integers: any integer bounds; numbers: integer bounds
//   >= 0), and the annotations (title, description, default, examples, $schema, $id, $comment,
//   deprecated, readOnly, writeOnly, contentMediaType, contentEncoding).
//
// Any other keyword is refused: InvalidArgument "unsupported JSON Schema keyword(s): a, b" with
// the path. Like xgrammar's strict mode (vLLM's default backend), properties come in the schema's
// order, and an object with "properties" but no "additionalProperties" takes no other key.
// Numbers have at most 18 integer digits, 15 fraction digits and a 2-digit exponent, so that
// every JSON parser reads them. Whitespace: by default up to 20 of [ \n\t] wherever JSON allows
// whitespace (vLLM's any_whitespace, bounded so a model cannot loop on it); compact (", " and ": ")
// on request, or a custom regex.
//
// Pure; thread-safe.
#ifndef MODELCAR_LLM_GRAMMAR_JSON_SCHEMA_H_
#define MODELCAR_LLM_GRAMMAR_JSON_SCHEMA_H_

#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "llm/grammar/grammar.h"

namespace modelcar::llm::grammar {

struct JsonGrammarOptions {
  bool any_whitespace = true;             // false: ", " and ": " only
  std::string whitespace_pattern;         // a regex for the whitespace (wins over any_whitespace)
  bool no_additional_properties = false;  // additionalProperties false everywhere
};

Result<Grammar> JsonSchemaGrammar(const nlohmann::ordered_json& schema,
                                  const JsonGrammarOptions& options = {});

// Any JSON object or array (vLLM's json_object, xgrammar's built-in JSON grammar).
Result<Grammar> AnyJsonGrammar(const JsonGrammarOptions& options = {});

}  // namespace modelcar::llm::grammar

#endif  // MODELCAR_LLM_GRAMMAR_JSON_SCHEMA_H_
