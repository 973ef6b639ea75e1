// Test helper for serve's unit tests: a byte-level BPE tokenizer with the Qwen2 split, ids 0-255
// for the bytes, optional multi-byte tokens, and "<|end|>" as special token `end_id` (if >= 0).
#ifndef MODELCAR_SERVE_BYTE_TOKENIZER_TEST_UTIL_H_
#define MODELCAR_SERVE_BYTE_TOKENIZER_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "llm/tokenizer/byte_level.h"
#include "llm/tokenizer/pretokenize.h"
#include "llm/tokenizer/tokenizer.h"

namespace modelcar::serve {

// `extra`: (text, id) tokens beyond the 256 bytes (no merges: the encoder never produces them,
// but constraints and decoding see them).
inline llm::Tokenizer ByteTestTokenizer(
    int32_t end_id, const std::vector<std::pair<std::string, int32_t>>& extra = {}) {
  using json = nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[llm::ByteLevelEncode(std::string(1, char(b)))] = b;
  for (const auto& [text, id] : extra) vocab[llm::ByteLevelEncode(text)] = id;
  json j;
  if (end_id >= 0) {
    j["added_tokens"] = json::array({{{"id", end_id}, {"content", "<|end|>"}, {"special", true}}});
  }
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Split"},
                     {"pattern", {{"Regex", std::string(llm::kQwen2SplitRegex)}}},
                     {"behavior", "Isolated"},
                     {"invert", false}},
                    {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}};
  auto t = llm::Tokenizer::FromJson(j.dump(), "", "bytes");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(*t);
}

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_BYTE_TOKENIZER_TEST_UTIL_H_
