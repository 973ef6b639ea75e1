// Fuzz target: image references (CLI arguments, storageUri values in pods, ConfigMaps) and
// digests. A parsed reference prints in a normalized form that parses back to the same reference.
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "oci/digest.h"
#include "oci/reference.h"

using namespace modelcar::oci;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = Digest::Parse(text); d.ok()) FUZZ_CHECK(d->ToString() == text);
  (void)Digest::FromHex(text);
  (void)IsValidTag(text);
  auto r = Reference::Parse(text);
  if (!r.ok()) return 0;
  std::string norm = r->ToString();
  auto again = Reference::Parse(norm);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->ToString() == norm);
  (void)r->Identifier();
  (void)r->ApiHost();
  return 0;
}
