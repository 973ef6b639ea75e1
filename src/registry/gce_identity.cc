#include "registry/gce_identity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/json.h"
#include "registry/auth_file.h"

namespace modelcar::registry {

bool GceIdentityApplies(std::string_view registry) {
  std::string host = NormalizeRegistryKey(registry);
  host = host.substr(0, host.find(':'));
  return host.ends_with(".pkg.dev") || host == "gcr.io" || host.ends_with(".gcr.io");
}

std::string MetadataHost() {
  const char* e = std::getenv("GCE_METADATA_HOST");
  return e != nullptr && *e != '\0' ? std::string(e) : "169.254.169.254";
}

bool LooksLikeGce() {
  const char* e = std::getenv("GCE_METADATA_HOST");
  if (e != nullptr && *e != '\0') return true;
  Result<std::string> name = ReadFile("/sys/class/dmi/id/product_name", 4096);
  return name.ok() && name->find("Google") != std::string::npos;
}

Result<MetadataToken> ParseMetadataToken(std::string_view body) {
  Result<nlohmann::json> doc = ParseJsonLimited(body, "");
  MetadataToken t;
  if (doc.ok() && doc->is_object()) {
    auto tok = doc->find("access_token");
    auto exp = doc->find("expires_in");
    if (tok != doc->end() && tok->is_string()) t.access_token = tok->get<std::string>();
    if (exp != doc->end() && exp->is_number_integer()) t.expires_in_s = exp->get<int64_t>();
  }
  if (t.access_token.empty() || t.expires_in_s <= 0) {
    return InvalidArgument(
        "the metadata server's token answer is not {\"access_token\", "
        "\"expires_in\"} JSON");
  }
  return t;
}

GceTokenSource::GceTokenSource(std::string metadata_host, Clock now)
    : host_(std::move(metadata_host)), now_(std::move(now)) {
  http::ClientOptions o;
  o.connect_timeout_s = 2;
  o.low_speed_time_s = 5;
  o.max_redirects = 0;
  o.use_env_proxy = false;
  o.user_agent = "modelcar (node identity)";
  client_ = std::make_unique<http::Client>(o);
}

GceTokenSource& GceTokenSource::Default() {
  static GceTokenSource* source = new GceTokenSource(MetadataHost());
  return *source;
}

uint64_t GceTokenSource::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

Result<std::string> GceTokenSource::Token(bool refresh) {
  std::lock_guard<std::mutex> lock(mu_);  // one fetch at a time; the others reuse its token
  if (!refresh && !token_.empty() && now_() < renew_at_) return token_;
  std::string what = "GCE metadata server " + host_;
  http::Request req{
      .url = "http://" + host_ + "/computeMetadata/v1/instance/service-accounts/default/token",
      .headers = {{"Metadata-Flavor", "Google"}},
      .max_body = 64 * 1024,
      .follow_redirects = false};
  Result<http::Response> r = client_->Do(req);
  if (!r.ok()) {
    return r.status().WithContext(what + " (node identity; is this a GCE VM or GKE node?)");
  }
  if (r->Header("metadata-flavor").value_or("") != "Google") {
    return Unavailable(fmt::format(
        "{} answered HTTP {} without \"Metadata-Flavor: Google\": not a metadata server", what,
        r->status));
  }
  if (r->status == 404 || r->status == 403) {
    return Unauthenticated(
        fmt::format("{} has no token for the default service account (HTTP {})", what, r->status));
  }
  if (r->status != 200) {
    return Unavailable(fmt::format("{} answered HTTP {} for a token", what, r->status));
  }
  Result<MetadataToken> t = ParseMetadataToken(r->body);
  if (!t.ok()) return t.status().WithContext(what);
  auto now = now_();
  std::chrono::seconds life(t->expires_in_s);
  std::chrono::seconds margin = std::min<std::chrono::seconds>(std::chrono::minutes(5), life / 2);
  token_ = std::move(t->access_token);
  renew_at_ = now + life - margin;
  ++fetches_;
  return token_;
}

}  // namespace modelcar::registry
