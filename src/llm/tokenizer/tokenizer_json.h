// Internal to the tokenizer module: the reader of tokenizer.json. The two big parts, model.vocab
// (~150k entries) and model.merges (~150-280k pairs), are collected straight into vectors; the
// rest of the document (small) becomes a DOM with those two replaced by an empty object / array.
// This avoids building and freeing a DOM of ~1M nodes (seconds on these machines). Two readers:
// a fast one for the documents HF tokenizers writes (~25 ms for Qwen's 11 MB) and a general one
// on nlohmann's SAX events (~60 ms) for everything else and for the errors.
// Includes nlohmann/json.hpp: do not include from public headers.
#ifndef MODELCAR_LLM_TOKENIZER_TOKENIZER_JSON_H_
#define MODELCAR_LLM_TOKENIZER_TOKENIZER_JSON_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace modelcar::llm {

struct TokenizerJson {
  // A string of `strings`, by position.
  struct Span {
    uint32_t offset = 0;
    uint32_t size = 0;
  };
  nlohmann::json rest;                          // model.vocab / model.merges emptied
  std::string strings;                          // the vocab's and merges' strings, back to back
  std::vector<std::pair<Span, int64_t>> vocab;  // model.vocab in file order
  std::vector<std::pair<Span, Span>> merges;    // model.merges, both forms
  bool has_vocab = false;
  bool has_merges = false;

  std::string_view View(Span s) const { return std::string_view(strings).substr(s.offset, s.size); }
  // Makes room, resident, for the vocab and merges of a `text_size`-byte file.
  void Reserve(size_t text_size);
};

// Parses tokenizer.json (under 4 GiB). Errors (InvalidArgument) name the JSON path, e.g.
// model.merges[12]. Tries the fast reader, then the general one.
Result<TokenizerJson> ParseTokenizerJson(std::string_view text);

// The two readers, exposed for tests; for any text where the fast one gives a result, the
// general one gives the same.
Result<TokenizerJson> ParseTokenizerJsonSax(std::string_view text);
// The fast reader (tokenizer_json_fast.cc): the documents HF tokenizers writes (keys without
// escapes, each of model, model.vocab and model.merges once, vocab ids as plain integers);
// nullopt for anything else, valid or not.
std::optional<TokenizerJson> ParseTokenizerJsonFast(std::string_view text);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_TOKENIZER_JSON_H_
