// Registry credentials from a Docker config file (the same format as a Kubernetes
// `.dockerconfigjson` imagePullSecret, and podman's auth.json):
//
//   {"auths": {"ghcr.io": {"auth": "<base64 user:password>"},
//              "https://index.docker.io/v1/": {"username": "u", "password": "p"},
//              "reg.example.com": {"identitytoken": "<OAuth2 refresh token>"}}}
//
// The legacy `.dockercfg` form (the "auths" map at the top level) is accepted too. The file may
// also name docker credential helpers (credential_helper.h), as docker writes them:
//
//   {"credHelpers": {"us-docker.pkg.dev": "gcloud"}, "credsStore": "desktop"}
//
// Which source answers for a registry is decided by credentials.h (credHelpers, then credsStore,
// then auths). A helper name must be a plain name (no '/'): it is run as docker-credential-NAME.
//
// Which file: an explicit --authfile (must exist); else $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/
// config.json, ~/.docker/config.json — the first that exists; none at all means anonymous.
//
// Credentials never appear in Status messages or logs; only the file's path does.
#ifndef MODELCAR_REGISTRY_AUTH_FILE_H_
#define MODELCAR_REGISTRY_AUTH_FILE_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::registry {

struct Credential {
  std::string username;
  std::string password;
  std::string identity_token;  // OAuth2 refresh token for the token endpoint
};

class AuthFile {
 public:
  AuthFile() = default;  // no file: anonymous everywhere

  // Loads `explicit_path` when not empty, else searches the default places (see above).
  static Result<AuthFile> Load(const std::string& explicit_path);
  // Parses the JSON text of a config file; `path` is only used in messages.
  static Result<AuthFile> Parse(std::string_view json, const std::string& path);

  // Credentials for `registry` ("docker.io", "ghcr.io", "127.0.0.1:5000"), or nullopt. Keys in the
  // file are matched after removing a scheme and path; index.docker.io and registry-1.docker.io
  // count as docker.io.
  std::optional<Credential> Lookup(std::string_view registry) const;
  // The credHelpers entry for `registry` (keys matched as for Lookup), or nullopt.
  std::optional<std::string> CredHelper(std::string_view registry) const;
  // The credsStore helper ("" when none).
  const std::string& creds_store() const { return creds_store_; }

  // The file the credentials came from ("" when none was found).
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::map<std::string, Credential> entries_;
  std::map<std::string, std::string> cred_helpers_;  // normalized registry -> helper name
  std::string creds_store_;
};

// Lower-cased "host[:port]" of a registry name or auths key ("https://index.docker.io/v1/" ->
// "docker.io").
std::string NormalizeRegistryKey(std::string_view key);

// A short description of where credentials come from, for error messages: "auth file PATH" or
// "no auth file (looked for --authfile, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json,
// ~/.docker/config.json)".
std::string DescribeAuthSource(const AuthFile& file);

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_AUTH_FILE_H_
