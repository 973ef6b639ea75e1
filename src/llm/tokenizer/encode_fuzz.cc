// Fuzz target: encoding and decoding text with a byte-level BPE tokenizer (every prompt `serve`
// gets goes through Encode; every generated token through StreamDecoder). The tokenizer is a small
// synthetic one (all 256 bytes, a few merges, a special and a plain added token) in four variants:
// Qwen2 or Llama 3 split regex, with or without NFC; the first input byte picks one.
// Properties: Encode succeeds exactly for valid UTF-8; the split pieces cover the text; decoding
// gives the text back (up to NFC); streaming decode equals Decode for any id sequence.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "llm/tokenizer/pretokenize.h"
#include "llm/tokenizer/tiny_tokenizer_test_util.h"
#include "llm/tokenizer/tokenizer.h"
#include "llm/tokenizer/unicode.h"

using namespace modelcar;
using namespace modelcar::llm;

namespace {

const Tokenizer& Get(int variant) {
  static std::unique_ptr<Tokenizer> cache[4];
  if (!cache[variant]) {
    auto t = Tokenizer::FromJson(testing::TinyTokenizerJson(variant & 1, variant & 2).dump(), "",
                                 "tiny");
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
