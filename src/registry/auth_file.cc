#include "registry/auth_file.h"

#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/base64.h"
#include "base/file.h"

namespace modelcar::registry {

std::string NormalizeRegistryKey(std::string_view key) {
  std::string_view k = key;
  if (size_t p = k.find("://"); p != std::string_view::npos) k.remove_prefix(p + 3);
  if (size_t p = k.find('/'); p != std::string_view::npos) k = k.substr(0, p);
  std::string out(k);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (out == "index.docker.io" || out == "registry-1.docker.io" || out == "docker.io") {
    return "docker.io";
  }
  return out;
}

Result<AuthFile> AuthFile::Parse(std::string_view json, const std::string& path) {
  AuthFile out;
  out.path_ = path;
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgument("auth file " + path + ": not a JSON object");
  }
  auto helper_name = [&](const nlohmann::json& v, const std::string& field) -> Result<std::string> {
    std::string name = v.is_string() ? v.get<std::string>() : "";
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return InvalidArgument("auth file " + path + ": " + field +
                             " must name a credential helper (docker-credential-NAME)");
    }
    return name;
  };
  if (auto it = doc.find("credsStore"); it != doc.end() && *it != "") {
    ASSIGN_OR_RETURN(out.creds_store_, helper_name(*it, "\"credsStore\""));
  }
  if (auto it = doc.find("credHelpers"); it != doc.end()) {
    if (!it->is_object()) {
      return InvalidArgument("auth file " + path + ": \"credHelpers\" is not an object");
    }
    for (const auto& [key, v] : it->items()) {
      ASSIGN_OR_RETURN(out.cred_helpers_[NormalizeRegistryKey(key)],
                       helper_name(v, "\"credHelpers\" entry " + key));
    }
  }
  const nlohmann::json* auths = &doc;
  if (auto it = doc.find("auths"); it != doc.end()) {
    if (!it->is_object())
      return InvalidArgument("auth file " + path + ": \"auths\" is not an object");
    auths = &*it;
  }
  for (const auto& item : auths->items()) {
    // Named references, not a structured binding: clang before 16 cannot capture those.
    const std::string& key = item.key();
    const nlohmann::json& entry = item.value();
    if (!entry.is_object()) continue;  // credsStore, credHelpers, other top-level settings
    Credential c;
    auto str = [&](const char* name) -> std::string {
      auto f = entry.find(name);
      return f != entry.end() && f->is_string() ? f->get<std::string>() : std::string();
    };
    std::string auth = str("auth");
    if (!auth.empty()) {
      std::optional<std::string> decoded = Base64Decode(auth);
      size_t colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        return InvalidArgument("auth file " + path + ": the \"auth\" field for " + key +
                               " is not base64 of user:password");
      }
      c.username = decoded->substr(0, colon);
      c.password = decoded->substr(colon + 1);
    } else {
      c.username = str("username");
      c.password = str("password");
    }
    c.identity_token = str("identitytoken");
    if (c.username.empty() && c.password.empty() && c.identity_token.empty()) continue;
    out.entries_[NormalizeRegistryKey(key)] = std::move(c);
  }
  return out;
}

Result<AuthFile> AuthFile::Load(const std::string& explicit_path) {
  std::string path = explicit_path;
  if (path.empty()) {
    std::vector<std::string> candidates;
    if (const char* e = std::getenv("REGISTRY_AUTH_FILE"); e && *e) candidates.push_back(e);
    if (const char* e = std::getenv("DOCKER_CONFIG"); e && *e) {
      candidates.push_back(std::string(e) + "/config.json");
    }
    if (const char* e = std::getenv("HOME"); e && *e) {
      candidates.push_back(std::string(e) + "/.docker/config.json");
    }
    for (const std::string& c : candidates) {
      if (access(c.c_str(), F_OK) == 0) {
        path = c;
        break;
      }
    }
    if (path.empty()) return AuthFile();
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 16 << 20));
  return Parse(text, path);
}

std::optional<Credential> AuthFile::Lookup(std::string_view registry) const {
  auto it = entries_.find(NormalizeRegistryKey(registry));
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> AuthFile::CredHelper(std::string_view registry) const {
  auto it = cred_helpers_.find(NormalizeRegistryKey(registry));
  if (it == cred_helpers_.end()) return std::nullopt;
  return it->second;
}

std::string DescribeAuthSource(const AuthFile& file) {
  if (!file.path().empty()) return "auth file " + file.path();
  return "no auth file (looked for --authfile, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, "
         "~/.docker/config.json)";
}

}  // namespace modelcar::registry
