// Registry authentication: the WWW-Authenticate challenge flow of the distribution spec.
//
// A request is first sent with whatever the Authenticator already has for its scope (nothing, a
// Basic header, or a cached bearer token). On 401 the registry client passes the challenge to
// Authorize(): for "Basic" it switches to the user's credentials; for "Bearer
// realm=...,service=..." it asks the token endpoint for a token covering the scope (with Basic
// credentials, an OAuth2 refresh token, or anonymously for public repositories) and caches it per
// scope until it expires. A token that a registry rejects with 401 is dropped and fetched again
// once (refresh on 401).
//
// Scopes are "repository:<name>:<actions>" strings; several may be joined with a space (push with a
// cross-repository mount needs "repository:dst:pull,push repository:src:pull").
//
// Credentials are resolved lazily (CredentialFn, see credentials.h): a registry that never asks for
// them never runs a credential helper or asks the metadata server.
//
// Thread safety: all methods are thread-safe. Credentials never appear in messages.
#ifndef MODELCAR_REGISTRY_AUTH_H_
#define MODELCAR_REGISTRY_AUTH_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "http/client.h"
#include "registry/auth_file.h"

namespace modelcar::registry {

// A parsed WWW-Authenticate header: scheme ("bearer", "basic", lower case) and its parameters
// (names lower case, values unquoted).
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
std::optional<Challenge> ParseChallenge(std::string_view header);

// A token endpoint's answer: {"token" or "access_token": "...", "expires_in": seconds}. The
// lifetime is clamped to [60 s, 30 days] (60 s when absent). nullopt when there is no token.
struct TokenResponse {
  std::string token;
  int64_t expires_in_s = 60;
};
std::optional<TokenResponse> ParseTokenResponse(std::string_view body);

// A registry's credentials as resolved now (credentials.h): the credential (nullopt: anonymous)
// and where it came from, for messages ("auth file F", "credential helper docker-credential-X
// (...)", ...).
struct ResolvedCredential {
  std::optional<Credential> credential;
  std::string source;
};
// Resolves the credential; `refresh`: the last one was rejected, ask its source again (a helper,
// the metadata server) instead of a cached answer. Errors name the source and the registry.
using CredentialFn = std::function<Result<ResolvedCredential>(bool refresh)>;

class Authenticator {
 public:
  // `client` must outlive this. `registry` names the registry in messages ("127.0.0.1:5000").
  // `resolve` is called only when the registry asks for credentials (a 401 challenge), at most
  // once with refresh=false, and once more with refresh=true when the registry or its token
  // endpoint rejects what it gave. `source` describes where credentials would come from until
  // then.
  Authenticator(http::Client* client, std::string registry, CredentialFn resolve,
                std::string source);

  // The Authorization header value to send for `scope` now ("" for none).
  std::string HeaderFor(const std::string& scope);

  // Handles a 401 whose WWW-Authenticate header is `challenge`, for a request in `scope` that was
  // sent with header `sent` (what HeaderFor returned). OK means: retry the request. Fails with
  // Unauthenticated naming the registry and the auth source when credentials are missing or
  // rejected, or with the credential source's error (a failing helper).
  Status Authorize(const std::string& challenge, const std::string& scope, const std::string& sent);

  // Where the credentials come from (or would), for messages.
  std::string auth_source() const;
  // True once the registry asked for credentials and a credential was found (not anonymous).
  bool has_credential() const;

 private:
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  Result<Token> FetchToken(const Challenge& c, const std::string& scope,
                           const std::optional<Credential>& credential, const std::string& source);
  // A live cached token covering `scope` ("" if none). REQUIRES: mu_ held.
  std::string CachedLocked(const std::string& scope);
  // Resolves the credential once. REQUIRES: fetch_mu_ held, mu_ not held.
  Status EnsureCredential();
  // Asks the source again, once per Authenticator; true when the credential changed.
  // REQUIRES: fetch_mu_ held, mu_ not held.
  Result<bool> RefreshCredential();

  http::Client* client_;
  std::string registry_;
  CredentialFn resolve_;

  std::mutex fetch_mu_;     // one token fetch or credential resolution at a time
  bool resolved_ = false;   // guarded by fetch_mu_
  bool refreshed_ = false;  // guarded by fetch_mu_
  mutable std::mutex mu_;
  std::optional<Credential> credential_;
  std::string auth_source_;
  bool basic_ = false;                   // the registry asked for Basic auth
  std::map<std::string, Token> tokens_;  // by scope
};

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_AUTH_H_
