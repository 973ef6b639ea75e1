// TinyTokenizerJson: a small synthetic byte-level BPE tokenizer.json for the tokenizer's tests and
// fuzz targets: 256 byte tokens (id = byte value), merges h+e, l+l, he+ll, hell+o, Ġ+w (ids
// 256-260), a special added token <|end|> (261) and a plain one <tool> (262); NFC when `nfc`;
// Qwen2's split regex, or Llama 3's when `llama`. SameTokenizerJson compares two readings of a
// tokenizer.json. Include from *_test.cc and *_fuzz.cc only.
#ifndef MODELCAR_LLM_TOKENIZER_TINY_TOKENIZER_TEST_UTIL_H_
#define MODELCAR_LLM_TOKENIZER_TINY_TOKENIZER_TEST_UTIL_H_

#include <nlohmann/json.hpp>
#include <string>

#include "llm/tokenizer/byte_level.h"
#include "llm/tokenizer/pretokenize.h"
#include "llm/tokenizer/tokenizer_json.h"

namespace modelcar::llm::testing {

inline nlohmann::json TinyTokenizerJson(bool nfc, bool llama) {
  using json = nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[ByteLevelEncode(std::string(1, static_cast<char>(b)))] = b;
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["hello"] = 259;
  vocab["Ġw"] = 260;
  json j;
  j["added_tokens"] = json::array({{{"id", 261}, {"content", "<|end|>"}, {"special", true}},
                                   {{"id", 262}, {"content", "<tool>"}, {"special", false}}});
  j["normalizer"] = nfc ? json{{"type", "NFC"}} : json(nullptr);
  std::string regex(llama ? kLlama3SplitRegex : kQwen2SplitRegex);
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Split"},
                     {"pattern", {{"Regex", regex}}},
                     {"behavior", "Isolated"},
                     {"invert", false}},
                    {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["model"] = {{"type", "BPE"},
                {"vocab", vocab},
                {"merges", json::array({"h e", "l l", "he ll", "hell o", "Ġ w"})}};
  return j;
}

// Whether two readings of tokenizer.json hold the same: the rest, and the vocab's and merges'
// strings and ids in order (their spans may differ).
inline bool SameTokenizerJson(const TokenizerJson& a, const TokenizerJson& b) {
  if (a.rest != b.rest || a.has_vocab != b.has_vocab || a.has_merges != b.has_merges ||
      a.vocab.size() != b.vocab.size() || a.merges.size() != b.merges.size()) {
    return false;
  }
  for (size_t i = 0; i < a.vocab.size(); ++i) {
    if (a.View(a.vocab[i].first) != b.View(b.vocab[i].first) ||
        a.vocab[i].second != b.vocab[i].second) {
      return false;
    }
  }
  for (size_t i = 0; i < a.merges.size(); ++i) {
    if (a.View(a.merges[i].first) != b.View(b.merges[i].first) ||
        a.View(a.merges[i].second) != b.View(b.merges[i].second)) {
      return false;
    }
  }
  return true;
}

}  // namespace modelcar::llm::testing

#endif  // MODELCAR_LLM_TOKENIZER_TINY_TOKENIZER_TEST_UTIL_H_
