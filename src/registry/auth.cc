#include "registry/auth.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "base/base64.h"
#include "base/json.h"

namespace modelcar::registry {
namespace {

std::string UrlEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// "repository a/b, c/d" from "repository:a/b:pull,push repository:c/d:pull".
std::string ScopeRepos(const std::string& scope) {
  std::string out;
  std::istringstream in(scope);
  for (std::string s; in >> s;) {
    size_t a = s.find(':'), b = s.rfind(':');
    if (a == std::string::npos || b <= a) continue;
    out += (out.empty() ? "repository " : ", ") + s.substr(a + 1, b - a - 1);
  }
  return out;
}

// True when every scope in `want` is granted by a scope in `have` with at least its actions
// ("repository:a:pull,push" covers "repository:a:pull").
bool Covers(const std::string& have, const std::string& want) {
  auto split = [](const std::string& s) {
    std::vector<std::pair<std::string, std::set<std::string>>> out;
    std::istringstream in(s);
    for (std::string one; in >> one;) {
      size_t b = one.rfind(':');
      std::set<std::string> actions;
      std::string acts = b == std::string::npos ? "" : one.substr(b + 1);
      for (size_t p = 0; p <= acts.size();) {
        size_t q = acts.find(',', p);
        if (q == std::string::npos) q = acts.size();
        if (q > p) actions.insert(acts.substr(p, q - p));
        p = q + 1;
      }
      out.emplace_back(one.substr(0, b), std::move(actions));
    }
    return out;
  };
  auto h = split(have);
  for (const auto& [res, acts] : split(want)) {
    bool ok = false;
    for (const auto& [hres, hacts] : h) {
      if (hres != res) continue;
      ok = std::includes(hacts.begin(), hacts.end(), acts.begin(), acts.end());
      if (ok) break;
    }
    if (!ok) return false;
  }
  return true;
}

std::string BasicHeader(const Credential& c) {
  return "Basic " + Base64Encode(c.username + ":" + c.password);
}

}  // namespace

std::optional<Challenge> ParseChallenge(std::string_view h) {
  Challenge c;
  size_t i = 0;
  while (i < h.size() && h[i] == ' ') ++i;
  size_t start = i;
  while (i < h.size() && h[i] != ' ') ++i;
  if (i == start) return std::nullopt;
  for (size_t k = start; k < i; ++k) {
    c.scheme += static_cast<char>(std::tolower(static_cast<unsigned char>(h[k])));
  }
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    size_t ns = i;
    while (i < h.size() && h[i] != '=' && h[i] != ',') ++i;
    std::string name(h.substr(ns, i - ns));
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (i >= h.size() || h[i] != '=') {
      if (!name.empty()) c.params[name] = "";
      continue;
    }
    ++i;  // '='
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value += h[i++];
      }
      ++i;  // closing quote
    } else {
      while (i < h.size() && h[i] != ',') value += h[i++];
    }
    if (!name.empty()) c.params[name] = value;
  }
  return c;
}

Authenticator::Authenticator(http::Client* client, std::string registry, CredentialFn resolve,
                             std::string source)
    : client_(client),
      registry_(std::move(registry)),
      resolve_(std::move(resolve)),
      auth_source_(std::move(source)) {}

std::string Authenticator::auth_source() const {
  std::lock_guard<std::mutex> lock(mu_);
  return auth_source_;
}

bool Authenticator::has_credential() const {
  std::lock_guard<std::mutex> lock(mu_);
  return credential_.has_value();
}

Status Authenticator::EnsureCredential() {
  if (resolved_) return Status();
  ASSIGN_OR_RETURN(ResolvedCredential r, resolve_(false));
  resolved_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  credential_ = std::move(r.credential);
  auth_source_ = std::move(r.source);
  return Status();
}

Result<bool> Authenticator::RefreshCredential() {
  if (refreshed_) return false;
  refreshed_ = true;
  ASSIGN_OR_RETURN(ResolvedCredential r, resolve_(true));
  std::lock_guard<std::mutex> lock(mu_);
  auto key = [](const std::optional<Credential>& c) {
    return c ? c->username + '\n' + c->password + '\n' + c->identity_token : std::string();
  };
  bool changed = key(r.credential) != key(credential_);
  credential_ = std::move(r.credential);
  auth_source_ = std::move(r.source);
  return changed;
}

std::string Authenticator::CachedLocked(const std::string& scope) {
  auto now = std::chrono::steady_clock::now();
  std::erase_if(tokens_, [&](const auto& kv) { return now >= kv.second.expires; });
  auto it = tokens_.find(scope);
  if (it != tokens_.end()) return "Bearer " + it->second.value;
  for (const auto& [have, token] : tokens_) {
    if (Covers(have, scope)) return "Bearer " + token.value;
  }
  return "";
}

std::string Authenticator::HeaderFor(const std::string& scope) {
  std::lock_guard<std::mutex> lock(mu_);
  if (basic_ && credential_ && !credential_->username.empty()) return BasicHeader(*credential_);
  return CachedLocked(scope);
}

Status Authenticator::Authorize(const std::string& header, const std::string& scope,
                                const std::string& sent) {
  std::optional<Challenge> c = ParseChallenge(header);
  if (!c) {
    return Unauthenticated("registry " + registry_ +
                           " answered 401 without a usable "
                           "WWW-Authenticate challenge (" +
                           auth_source() + ")");
  }
  if (c->scheme != "basic" && c->scheme != "bearer") {
    return Unimplemented("registry " + registry_ + " asks for unsupported auth scheme \"" +
                         c->scheme + "\"");
  }
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
  RETURN_IF_ERROR(EnsureCredential());
  if (c->scheme == "basic") {
    std::unique_lock<std::mutex> lock(mu_);
    if (!credential_ || credential_->username.empty()) {
      return Unauthenticated("registry " + registry_ + " (" + ScopeRepos(scope) +
                             ") requires a username and password and there are none for it; " +
                             auth_source_);
    }
    if (sent.starts_with("Basic ")) {
      if (sent != BasicHeader(*credential_)) return Status();  // changed meanwhile: retry
      lock.unlock();
      ASSIGN_OR_RETURN(bool changed, RefreshCredential());
      lock.lock();
      if (!changed || !credential_ || credential_->username.empty()) {
        return Unauthenticated("registry " + registry_ + " (" + ScopeRepos(scope) +
                               ") rejected the username/password from " + auth_source_);
      }
    }
    basic_ = true;
    return Status();
  }
  std::optional<Credential> credential;
  std::string source;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::string now = CachedLocked(scope);
    if (!now.empty() && now != sent) return Status();  // another thread got a new token meanwhile
    // The token we sent was rejected: drop every cached token equal to it, then fetch once.
    std::erase_if(tokens_, [&](const auto& kv) { return "Bearer " + kv.second.value == sent; });
    credential = credential_;
    source = auth_source_;
  }
  Result<Token> t = FetchToken(*c, scope, credential, source);
  if (!t.ok() && t.status().code() == Code::kUnauthenticated && credential) {
    // Refused: a helper's or the metadata server's credential may have expired; ask once more.
    ASSIGN_OR_RETURN(bool changed, RefreshCredential());
    if (changed) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        credential = credential_;
        source = auth_source_;
      }
      t = FetchToken(*c, scope, credential, source);
    }
  }
  if (!t.ok()) return t.status();
  std::lock_guard<std::mutex> lock(mu_);
  tokens_[scope] = std::move(*t);
  return Status();
}

Result<Authenticator::Token> Authenticator::FetchToken(const Challenge& c, const std::string& scope,
                                                       const std::optional<Credential>& credential,
                                                       const std::string& source) {
  auto realm = c.params.find("realm");
  if (realm == c.params.end() || realm->second.empty()) {
    return Unauthenticated("registry " + registry_ + ": bearer challenge without a realm");
  }
  std::string service = c.params.count("service") ? c.params.at("service") : "";
  std::vector<std::string> scopes;
  std::istringstream in(scope);
  for (std::string s; in >> s;) scopes.push_back(s);

  http::Request req;
  if (credential && !credential->identity_token.empty()) {
    req.method = "POST";
    req.url = realm->second;
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    req.carries_credentials = true;
    req.body = "grant_type=refresh_token&client_id=modelcar&service=" + UrlEscape(service) +
               "&refresh_token=" + UrlEscape(credential->identity_token);
    for (const std::string& s : scopes) req.body += "&scope=" + UrlEscape(s);
  } else {
    req.url = realm->second + (realm->second.find('?') == std::string::npos ? "?" : "&") +
              "service=" + UrlEscape(service);
    for (const std::string& s : scopes) req.url += "&scope=" + UrlEscape(s);
    if (credential && !credential->username.empty()) {
      req.headers.emplace_back("Authorization", BasicHeader(*credential));
    }
  }
  req.max_body = 1 << 20;
  Result<http::Response> r = client_->Do(req);
  if (!r.ok()) return r.status().WithContext("token endpoint of registry " + registry_);
  if (r->status == 401 || r->status == 403) {
    return Unauthenticated(fmt::format(
        "token endpoint of registry {} refused the {} for scope \"{}\" (HTTP {})", registry_,
        credential ? fmt::format("credentials from {}", source)
                   : fmt::format("anonymous request ({})", source),
        scope, r->status));
  }
  if (r->status != 200) {
    return Unavailable(
        fmt::format("token endpoint of registry {} answered HTTP {}", registry_, r->status));
  }
  std::optional<TokenResponse> answer = ParseTokenResponse(r->body);
  if (!answer) {
    return Unauthenticated("token endpoint of registry " + registry_ + " returned no token");
  }
  Token t;
  t.value = std::move(answer->token);
  // Renew a little early so that a token does not expire in the middle of a request.
  t.expires = std::chrono::steady_clock::now() + std::chrono::seconds(answer->expires_in_s - 10);
  return t;
}

std::optional<TokenResponse> ParseTokenResponse(std::string_view body) {
  Result<nlohmann::json> parsed = ParseJsonLimited(body, "");
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  const nlohmann::json& doc = *parsed;
  TokenResponse out;
  for (const char* key : {"token", "access_token"}) {
    auto it = doc.find(key);
    if (it != doc.end() && it->is_string() && !it->get<std::string>().empty()) {
      out.token = it->get<std::string>();
      break;
    }
  }
  if (out.token.empty()) return std::nullopt;
  auto e = doc.find("expires_in");
  if (e != doc.end() && e->is_number_integer()) {
    out.expires_in_s = std::clamp<int64_t>(e->get<int64_t>(), 60, int64_t{30} * 24 * 3600);
  }
  return out;
}

}  // namespace modelcar::registry
