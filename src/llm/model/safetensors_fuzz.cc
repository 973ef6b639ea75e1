// Fuzz target: the model files `serve` reads from an image: the safetensors header (8-byte
// length + JSON, checked against the file size), model.safetensors.index.json, config.json and
// generation_config.json. The first input byte chooses the parser; for the header, the next byte
// adds slack to the file size so the data section can be larger than the input. Properties: a
// validated header's tensors lie inside the file, ordered and without overlap.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuzz_check.h"
#include "llm/model/config.h"
#include "llm/model/safetensors.h"

using namespace modelcar::llm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  modelcar::fuzz::FuzzInput in(data, size);
  uint8_t sel = in.Byte();
  std::string_view text = in.rest();
  switch (sel % 4) {
    case 0: {
      uint64_t file_size = text.size() + (uint64_t{in.Byte()} << 16);
      text = in.rest();
      file_size = std::max<uint64_t>(file_size, text.size());
      auto h = ParseSafetensorsHeader(text, file_size, "fuzz.safetensors");
      if (!h.ok()) break;
      FUZZ_CHECK(h->data_start >= 8 && h->data_start <= file_size);
      std::vector<std::pair<uint64_t, uint64_t>> spans;
      for (const auto& [name, t] : h->tensors) {
        FUZZ_CHECK(t.begin <= t.end && t.end <= file_size - h->data_start);
        if (t.begin < t.end) spans.emplace_back(t.begin, t.end);
      }
      std::sort(spans.begin(), spans.end());
      for (size_t i = 1; i < spans.size(); ++i) FUZZ_CHECK(spans[i - 1].second <= spans[i].first);
      break;
    }
    case 1:
      if (auto m = ParseSafetensorsIndex(text, "index.json"); m.ok()) {
        for (const auto& [tensor, file] : *m) {
          FUZZ_CHECK(file.find('/') == std::string::npos && file != ".." && file != ".");
        }
      }
      break;
    case 2:
      if (auto c = ParseModelConfig(text, "config.json"); c.ok()) {
        FUZZ_CHECK(c->hidden_size > 0 && c->num_heads > 0 && c->num_kv_heads > 0);
        FUZZ_CHECK(c->num_heads % c->num_kv_heads == 0);
      }
      break;
    default:
      (void)ParseGenerationConfig(text, "generation_config.json");
      break;
  }
  return 0;
}
