// Node identity on Google Cloud (GKE nodes, GCE VMs): an OAuth2 access token for the node's (or
// the pod's Workload Identity) service account, from the metadata server, as Google's client
// libraries get it:
//
//   GET http://$GCE_METADATA_HOST/computeMetadata/v1/instance/service-accounts/default/token
//   Metadata-Flavor: Google
//   -> 200 {"access_token": "...", "expires_in": 3599, "token_type": "Bearer"}
//
// Artifact Registry (*.pkg.dev) and Container Registry (gcr.io, *.gcr.io) accept it as the
// password of the user "oauth2accesstoken". GCE_METADATA_HOST (host[:port]) is honoured as
// Google's libraries do; the default is 169.254.169.254. The request never goes through a proxy,
// has a 2 s connect timeout and a 5 s stall limit, and the answer must carry
// "Metadata-Flavor: Google". A token is reused until less than min(5 min, half its lifetime)
// remains, then a new one is fetched before use, so a token is never used close to its expiry.
//
// Thread safety: all functions and GceTokenSource methods are thread-safe. Tokens never appear in
// messages.
#ifndef MODELCAR_REGISTRY_GCE_IDENTITY_H_
#define MODELCAR_REGISTRY_GCE_IDENTITY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/client.h"

namespace modelcar::registry {

// True for registries that take Google identities: *.pkg.dev, gcr.io and *.gcr.io.
bool GceIdentityApplies(std::string_view registry);

// The metadata server's host[:port]: $GCE_METADATA_HOST, else 169.254.169.254.
std::string MetadataHost();

// --registry-identity auto's test, without any network: true when GCE_METADATA_HOST is set or
// /sys/class/dmi/id/product_name names Google (as on every GCE VM and GKE node). Elsewhere it is
// false at once, so a machine outside Google Cloud never waits for a metadata server.
bool LooksLikeGce();

struct MetadataToken {
  std::string access_token;
  int64_t expires_in_s = 0;
};
// Parses the token endpoint's JSON (pure). Errors never quote the body.
Result<MetadataToken> ParseMetadataToken(std::string_view body);

class GceTokenSource {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  explicit GceTokenSource(std::string metadata_host, Clock now = &std::chrono::steady_clock::now);

  // The process-wide source for MetadataHost() (read once, at first use).
  static GceTokenSource& Default();

  // A current access token: the cached one while it has enough life left (see above), else a new
  // one from the metadata server. `refresh`: always fetch a new one (the last was rejected).
  // Errors (Unavailable, Unauthenticated) name the metadata server, never a token.
  Result<std::string> Token(bool refresh);

  // Tokens fetched so far (for tests and metrics).
  uint64_t fetches() const;

 private:
  std::string host_;
  Clock now_;
  std::unique_ptr<http::Client> client_;
  mutable std::mutex mu_;
  std::string token_;
  std::chrono::steady_clock::time_point renew_at_;
  uint64_t fetches_ = 0;
};

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_GCE_IDENTITY_H_
