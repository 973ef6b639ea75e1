// Fuzz target: manifest, index and image config parsing (registry answers, layout index.json,
// image configs), and the canonical serialization: what parses must serialize to bytes that parse
// back to the same bytes.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "oci/manifest.h"

using namespace modelcar::oci;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  (void)SniffMediaType(json);
  if (auto m = ParseManifest(json); m.ok()) {
    std::string once = SerializeManifest(*m);
    auto again = ParseManifest(once);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(SerializeManifest(*again) == once);
  }
  if (auto i = ParseIndex(json); i.ok()) {
    std::string once = SerializeIndex(*i);
    auto again = ParseIndex(once);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(SerializeIndex(*again) == once);
  }
  if (auto c = ParseImageConfig(json); c.ok()) {
    std::string once = SerializeImageConfig(*c);
    auto again = ParseImageConfig(once);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(SerializeImageConfig(*again) == once);
  }
  return 0;
}
