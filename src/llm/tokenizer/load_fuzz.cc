// Fuzz target: loading tokenizer.json and tokenizer_config.json (files of a model image, read by
// `serve` and `tokenize`). Input: tokenizer.json, a marker line, tokenizer_config.json, a marker
// line, a text to encode with whatever loaded. Properties: the fast tokenizer.json reader accepts
// only what the general one does and reads it the same; a loaded tokenizer encodes to ids in
// range, and streaming decode equals Decode.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "llm/tokenizer/tiny_tokenizer_test_util.h"
#include "llm/tokenizer/tokenizer.h"
#include "llm/tokenizer/tokenizer_json.h"

using namespace modelcar;
using namespace modelcar::llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  std::string_view tokenizer_json = in.Part();
  std::string_view config_json = in.Part();
  std::string_view text = in.rest();
  if (auto fast = ParseTokenizerJsonFast(tokenizer_json)) {
    auto general = ParseTokenizerJsonSax(tokenizer_json);
    FUZZ_CHECK(general.ok() && testing::SameTokenizerJson(*fast, *general));
  }
  auto t = Tokenizer::FromJson(tokenizer_json, config_json, "fuzz");
  if (!t.ok()) return 0;
  FUZZ_CHECK(t->bos_id() < t->vocab_size() && t->eos_id() < t->vocab_size());
  for (int32_t id = 0; id < std::min<int32_t>(t->vocab_size(), 600); ++id) {
    std::string_view tok = t->TokenText(id);
    if (!tok.empty() && !t->IsAdded(id)) FUZZ_CHECK(t->TokenId(tok) >= 0);
  }
  auto ids = t->Encode(text);
  if (!ids.ok()) return 0;
  for (int32_t id : *ids) FUZZ_CHECK(id >= 0 && id < t->vocab_size());
  std::string whole = t->Decode(*ids);
  StreamDecoder dec(*t, false);
  std::string streamed;
  for (int32_t id : *ids) streamed += dec.Push(id);
  streamed += dec.Finish();
  FUZZ_CHECK(streamed == whole);
  return 0;
}
