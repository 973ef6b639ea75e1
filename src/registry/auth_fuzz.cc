// Fuzz target: what a registry or the user hands to the authentication code: WWW-Authenticate
// challenges, token endpoint answers, and docker config.json / .dockerconfigjson / auth.json files.
// The first input byte picks the parser. Properties: a parsed challenge has a lower-case scheme
// and parameter names; a token answer carries a non-empty token and a lifetime within its bounds.
#include <cctype>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "registry/auth.h"
#include "registry/auth_file.h"

using namespace modelcar;
using namespace modelcar::registry;

namespace {

bool IsLower(const std::string& s) {
  for (unsigned char c : s) {
    if (std::isupper(c)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t sel = in.Byte();
  std::string_view text = in.rest();
  switch (sel % 3) {
    case 0:
      if (auto c = ParseChallenge(text)) {
        FUZZ_CHECK(!c->scheme.empty() && IsLower(c->scheme));
        for (const auto& [name, value] : c->params) FUZZ_CHECK(!name.empty() && IsLower(name));
      }
      break;
    case 1:
      if (auto t = ParseTokenResponse(text)) {
        FUZZ_CHECK(!t->token.empty());
        FUZZ_CHECK(t->expires_in_s >= 60 && t->expires_in_s <= 30 * 24 * 3600);
      }
      break;
    default:
      if (auto f = AuthFile::Parse(text, "config.json"); f.ok()) {
        for (const char* r : {"docker.io", "ghcr.io", "127.0.0.1:5000", "localhost"}) {
          (void)f->Lookup(r);
        }
      }
      (void)NormalizeRegistryKey(text);
      break;
  }
  return 0;
}
