#include "peer/kube_api.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/json.h"
#include "http/client.h"
#include "http/url.h"

namespace modelcar::peer {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == '\n' || s.front() == '\r' || s.front() == ' ')) {
    s.remove_prefix(1);
  }
  return s;
}

// A DNS label (RFC 1123): what namespaces and Service names are.
bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// The "message" of a Kubernetes Status body, printable and bounded, with `token` never quoted;
// "" when the body is no Status.
std::string StatusDetail(const std::string& body, const std::string& token) {
  auto j = ParseJsonLimited(body, "");
  if (!j.ok() || !j->is_object() || !j->contains("message") || !(*j)["message"].is_string()) {
    return "";
  }
  std::string m = (*j)["message"].get<std::string>();
  for (size_t at; !token.empty() && (at = m.find(token)) != std::string::npos;) {
    m.replace(at, token.size(), "<token>");
  }
  if (m.size() > 300) m = m.substr(0, 300) + "...";
  return ": " + PrintableAscii(m);
}

}  // namespace

KubeApiOptions InClusterOptions() {
  KubeApiOptions o;
  std::string api = Env("MODELCAR_KUBE_API");
  if (api.empty()) {
    std::string host = Env("KUBERNETES_SERVICE_HOST"), port = Env("KUBERNETES_SERVICE_PORT");
    if (!host.empty() && !port.empty()) {
      if (host.find(':') != std::string::npos) host = "[" + host + "]";
      api = "https://" + host + ":" + port;
    }
  }
  while (!api.empty() && api.back() == '/') api.pop_back();
  o.api_url = api;
  if (std::string dir = Env("MODELCAR_KUBE_SA_DIR"); !dir.empty()) o.sa_dir = dir;
  return o;
}

Result<NamespacedName> ParseNamespacedName(std::string_view text, std::string_view flag) {
  NamespacedName n;
  size_t slash = text.find('/');
  n.name = std::string(slash == std::string_view::npos ? text : text.substr(slash + 1));
  if (slash != std::string_view::npos) n.ns = std::string(text.substr(0, slash));
  if (!IsDnsLabel(n.name) || (slash != std::string_view::npos && !IsDnsLabel(n.ns))) {
    return InvalidArgument(fmt::format(
        "{} {}: expected [NAMESPACE/]NAME, each lower-case letters, digits and '-' (at most 63)",
        flag, PrintableAscii(text.substr(0, 200))));
  }
  return n;
}

Result<std::string> KubeApi::Namespace() const {
  const std::string path = options_.sa_dir + "/namespace";
  auto text = ReadFile(path, 4096);
  if (!text.ok())
    return FailedPrecondition("service account namespace: " + text.status().message());
  std::string ns(Trim(*text));
  if (!IsDnsLabel(ns)) return FailedPrecondition(path + ": not a namespace name");
  return ns;
}

Status KubeApi::CheckApiUrl() const {
  const std::string& api = options_.api_url;
  if (api.empty()) {
    return FailedPrecondition(
        "not in a Kubernetes cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
        "set (MODELCAR_KUBE_API names the API server otherwise)");
  }
  if (http::UrlScheme(api) != "https") {
    return FailedPrecondition("Kubernetes API " + http::RedactUrl(api) + ": https only");
  }
  return Status();
}

Result<std::string> KubeApi::Get(const std::string& path, const std::string& what) const {
  RETURN_IF_ERROR(CheckApiUrl());
  const std::string& api = options_.api_url;
  const std::string token_path = options_.sa_dir + "/token", ca_path = options_.sa_dir + "/ca.crt";
  auto token_text = ReadFile(token_path, 64 << 10);
  if (!token_text.ok()) {
    return FailedPrecondition("service account token: " + token_text.status().message());
  }
  std::string token(Trim(*token_text));
  bool printable = !token.empty();
  for (char c : token) printable = printable && c > 0x20 && c < 0x7f;
  if (!printable) return FailedPrecondition(token_path + ": not a bearer token");
  if (::access(ca_path.c_str(), R_OK) != 0) {
    return FailedPrecondition(ErrnoStatus(errno, "cluster CA " + ca_path).message());
  }
  http::ClientOptions co;
  co.ca_file = ca_path;
  co.ca_file_only = true;
  co.use_env_proxy = false;
  co.connect_timeout_s = options_.timeout_s;
  co.low_speed_time_s = options_.timeout_s;
  http::Client client(co);  // per call: ca.crt is read again
  http::Request req;
  req.url = api + path;
  req.headers = {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}};
  req.follow_redirects = false;
  req.max_body = uint64_t{32} << 20;
  const std::string context = "Kubernetes API " + http::RedactUrl(api) + ": " + what;
  Result<http::Response> r = client.Do(req);
  if (!r.ok()) return r.status().WithContext(context);
  if (r->status == 200) return std::move(r->body);
  const std::string detail = StatusDetail(r->body, token);
  switch (r->status) {
    case 401:
      return Unauthenticated(context + ": HTTP 401: the service account token " + token_path +
                             " was refused" + detail);
    case 403:
      return PermissionDenied(context + ": HTTP 403" + detail);
    case 404:
      return NotFound(context + ": HTTP 404" + detail);
    default:
      return Unavailable(fmt::format("{}: HTTP {}{}", context, r->status, detail));
  }
}

Result<std::string> KubeApi::ListEndpointSlices(const std::string& ns_in,
                                                const std::string& service) const {
  RETURN_IF_ERROR(CheckApiUrl());  // before the namespace file: "not in a cluster" says more
  std::string ns = ns_in;
  if (ns.empty()) {
    ASSIGN_OR_RETURN(ns, Namespace());
  }
  if (!IsDnsLabel(ns) || !IsDnsLabel(service)) {
    return InvalidArgument("EndpointSlices of " + PrintableAscii(ns) + "/" +
                           PrintableAscii(service) + ": not DNS labels");
  }
  const std::string what = "list the EndpointSlices of service " + ns + "/" + service;
  Result<std::string> body =
      Get("/apis/discovery.k8s.io/v1/namespaces/" + ns +
              "/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D" + service,
          what);
  if (body.status().code() == Code::kPermissionDenied) {
    return PermissionDenied(body.status().message() +
                            " (the service account needs get and list on endpointslices in the "
                            "discovery.k8s.io API group of namespace " +
                            ns + ": a Role and RoleBinding, see deploy/cache-agent/rbac.yaml)");
  }
  return body;
}

}  // namespace modelcar::peer
