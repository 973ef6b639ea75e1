// Fuzz target: encoding and decoding text with a byte-level BPE tokenizer (every prompt `serve`
// gets goes through Encode; every generated token through StreamDecoder). The tokenizer is a small
// synthetic one (all 256 bytes, a few merges, a special and a plain added token) in four variants:
// Qwen2 or Llama 3 split regex, with or without NFC; the first input byte picks one.
// Properties: Encode succeeds exactly for valid UTF-8; the split pieces cover the text; decoding
// gives the text back (up to NFC); streaming decode equals Decode for any id sequence.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "llm/tokenizer/byte_level.h"
#include "llm/tokenizer/pretokenize.h"
#include "llm/tokenizer/tokenizer.h"
#include "llm/tokenizer/unicode.h"

using namespace modelcar;
using namespace modelcar::llm;
using json = nlohmann::json;

namespace {

std::string TinyTokenizerJson(bool nfc, bool llama) {
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
  return j.dump();
}

const Tokenizer& Get(int variant) {
  static std::unique_ptr<Tokenizer> cache[4];
  if (!cache[variant]) {
    auto t = Tokenizer::FromJson(TinyTokenizerJson(variant & 1, variant & 2), "", "tiny");
    FUZZ_CHECK(t.ok());
    cache[variant] = std::make_unique<Tokenizer>(std::move(*t));
  }
  return *cache[variant];
}

std::string StreamDecode(const Tokenizer& t, const std::vector<int32_t>& ids, bool skip) {
  StreamDecoder dec(t, skip);
  std::string out;
  for (int32_t id : ids) out += dec.Push(id);
  return out + dec.Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  int variant = in.Byte() & 3;
  bool nfc = variant & 1;
  const Tokenizer& t = Get(variant);
  std::string_view text = in.rest();

  bool valid = ValidateUtf8(text).ok();
  if (valid) {
    std::vector<Piece> pieces;
    SplitText(variant & 2 ? SplitPattern::kLlama3 : SplitPattern::kQwen2, text, &pieces);
    uint32_t at = 0;
    for (const Piece& p : pieces) {
      FUZZ_CHECK(p.begin == at && p.end > p.begin);
      at = p.end;
    }
    FUZZ_CHECK(at == text.size());
  }
  for (bool special : {true, false}) {
    auto ids = t.Encode(text, special);
    FUZZ_CHECK(ids.ok() == valid);
    if (!ids.ok()) continue;
    for (int32_t id : *ids) FUZZ_CHECK(id >= 0 && id < t.vocab_size());
    std::string back = t.Decode(*ids);
    if (nfc) {
      auto a = Nfc(back), b = Nfc(text);
      FUZZ_CHECK(a.ok() && b.ok() && *a == *b);
    } else {
      FUZZ_CHECK(back == text);
    }
    FUZZ_CHECK(StreamDecode(t, *ids, false) == back);
  }
  // Any id sequence (out-of-range ids included), e.g. a model emitting half characters.
  std::vector<int32_t> raw;
  for (unsigned char c : text) raw.push_back(static_cast<int32_t>(c) * 2 - 100);
  for (bool skip : {false, true}) FUZZ_CHECK(StreamDecode(t, raw, skip) == t.Decode(raw, skip));
  return 0;
}
