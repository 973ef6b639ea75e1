// Docker credential helpers: `docker-credential-<name> get`, as docker, podman and containerd's
// ctr run them (the protocol of github.com/docker/docker-credential-helpers).
//
// The helper is looked up on $PATH, started with the single argument "get", given the server URL
// on stdin ("https://index.docker.io/v1/" for Docker Hub, else the registry's host[:port]) and
// answers on stdout with JSON {"ServerURL": ..., "Username": ..., "Secret": ...}. A Username of
// "<token>" means Secret is an identity token (an OAuth2 refresh token for the registry's token
// endpoint), not a password. "credentials not found in native keychain" on stdout with a non-zero
// exit, or an answer with an empty Username and Secret, means the helper has nothing for this
// server.
//
// The helper's stderr is discarded and its stdout never appears in a message: errors name the
// helper and the registry and say what went wrong (not installed, exit status, killed after the
// timeout, not the expected JSON). The helper runs in its own process group, with the process's
// environment, no other inherited descriptors, and is killed (the whole group) when it has not
// finished within the timeout: $MODELCAR_CREDENTIAL_HELPER_TIMEOUT seconds, default 30.
//
// Thread safety: all functions are thread-safe.
#ifndef MODELCAR_REGISTRY_CREDENTIAL_HELPER_H_
#define MODELCAR_REGISTRY_CREDENTIAL_HELPER_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "registry/auth_file.h"

namespace modelcar::registry {

// The server URL a helper is asked about for `registry` (as in Reference::registry()).
std::string HelperServerUrl(std::string_view registry);

// Parses a helper's stdout (pure). nullopt: the helper has no credentials for the server. Errors
// (InvalidArgument) never quote `out`; `what` names the helper and registry in them.
Result<std::optional<Credential>> ParseHelperAnswer(std::string_view out, const std::string& what);

// Runs `docker-credential-<helper> get` for `server_url` (no cache). `what` is how errors name
// the helper and the registry ("credential helper docker-credential-pass (credHelpers in F) for
// registry R").
Result<std::optional<Credential>> RunCredentialHelper(const std::string& helper,
                                                      const std::string& server_url,
                                                      std::chrono::milliseconds timeout,
                                                      const std::string& what);

// As RunCredentialHelper with the configured timeout, its answers cached in the process per
// (helper, server URL) for kHelperCacheTtl, so however many clients and threads ask, a helper
// runs once; `refresh` skips the cache (the cached credential was rejected). Failures are not
// cached.
inline constexpr std::chrono::minutes kHelperCacheTtl{10};
Result<std::optional<Credential>> GetHelperCredential(const std::string& helper,
                                                      const std::string& server_url, bool refresh,
                                                      const std::string& what);

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_CREDENTIAL_HELPER_H_
