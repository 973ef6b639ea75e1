#include "registry/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "oci/manifest.h"
#include "oci/media_types.h"

namespace modelcar::registry {
namespace {

using RetryAfter = std::optional<std::chrono::milliseconds>;

void NoteRetryAfter(const http::Response& r, RetryAfter* ra) {
  if (auto v = r.Header("retry-after")) *ra = ParseRetryAfter(*v);
}

// A Content-Length value, or nullopt when it is not a non-negative 63-bit number (curl passes
// values too big for its own integers through; std::stoll would throw on them).
std::optional<int64_t> ParseLength(std::string_view v) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < 0) return std::nullopt;
  return n;
}

std::string StripParams(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return std::string(t);
}

}  // namespace

std::string PullScope(const std::string& repo) { return "repository:" + repo + ":pull"; }
std::string PushScope(const std::string& repo) { return "repository:" + repo + ":pull,push"; }

Result<UploadMode> ParseUploadMode(std::string_view s) {
  if (s == "auto") return UploadMode::kAuto;
  if (s == "chunked") return UploadMode::kChunked;
  if (s == "monolithic") return UploadMode::kMonolithic;
  return InvalidArgument("--upload-mode must be auto, chunked or monolithic, not \"" +
                         std::string(s) + "\"");
}

Result<std::shared_ptr<RegistryClient>> RegistryClient::Create(const oci::Reference& ref,
                                                               const RegistryOptions& options) {
  std::shared_ptr<RegistryClient> c(new RegistryClient());
  c->options_ = options;
  c->registry_ = ref.registry();
  std::string host = ref.ApiHost();
  // Local registries speak plain HTTP by default (as with docker), unless TLS options say
  // otherwise.
  bool tls_asked = !options.ca_file.empty() || options.insecure;
  bool plain = options.plain_http || (http::IsLoopbackHost(host) && !tls_asked);
  c->base_url_ = (plain ? "http://" : "https://") + host;
  ASSIGN_OR_RETURN(AuthFile file, AuthFile::Load(options.authfile));
  http::ClientOptions ho;
  ho.ca_file = options.ca_file;
  ho.insecure = options.insecure;
  ho.allow_plain_credentials = options.insecure;  // the user marked the registry insecure
  ho.low_speed_time_s = options.low_speed_time_s;
  c->http_ = std::make_unique<http::Client>(ho);
  auto creds =
      std::make_shared<const RegistryCredentials>(std::move(file), c->registry_, options.identity);
  std::string source = creds->Describe();
  c->auth_ = std::make_unique<Authenticator>(
      c->http_.get(), c->registry_, RegistryCredentials::AsFunction(std::move(creds)), source);
  return c;
}

std::string RegistryClient::Url(const std::string& repo, const std::string& rest) const {
  return base_url_ + "/v2/" + repo + "/" + rest;
}

Result<http::Response> RegistryClient::Send(http::Request req, const std::string& scope) {
  const bool same_host = http::UrlHost(req.url) == http::UrlHost(base_url_);
  for (int round = 0;; ++round) {
    // Credentials go to the registry's own API host only (an upload URL may point elsewhere).
    std::string auth = same_host ? auth_->HeaderFor(scope) : "";
    http::Request r = req;
    if (!auth.empty()) r.headers.emplace_back("Authorization", auth);
    ASSIGN_OR_RETURN(http::Response resp, http_->Do(r));
    if (resp.status != 401 || round == 2) return resp;
    auto challenge = resp.Header("www-authenticate");
    if (!challenge || !same_host) return resp;
    RETURN_IF_ERROR(auth_->Authorize(*challenge, scope, auth));
    if (req.body_reader) {  // the body is consumed: the caller's retry loop starts it again
      return Unavailable(req.method + " " + http::RedactUrl(req.url) +
                         ": authorized after 401; upload restarts");
    }
  }
}

Status RegistryClient::Error(const http::Response& r, const std::string& what) const {
  std::string detail;
  Result<nlohmann::json> parsed = ParseJsonLimited(r.body, "");
  const nlohmann::json doc = parsed.ok() ? std::move(*parsed) : nlohmann::json();
  if (doc.is_object() && doc.contains("errors") && doc["errors"].is_array() &&
      !doc["errors"].empty() && doc["errors"][0].is_object()) {
    const auto& e = doc["errors"][0];
    if (e.contains("code") && e["code"].is_string()) detail = e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) {
      detail += (detail.empty() ? "" : ": ") + e["message"].get<std::string>();
    }
  }
  std::string msg =
      fmt::format("{}: HTTP {}{}{}", what, r.status, detail.empty() ? "" : " ", detail);
  switch (r.status) {
    case 401:
      return Unauthenticated(msg + " (registry " + registry_ + ", " + auth_->auth_source() + ")");
    case 403:
      return PermissionDenied(msg + " (registry " + registry_ + ", " + auth_->auth_source() + ")");
    case 404:
      return NotFound(msg);
    case 413:
      return ResourceExhausted(msg);
    default:
      if (IsRetryableHttp(r.status)) return Unavailable(msg);
      return FailedPrecondition(msg);
  }
}

Result<ManifestBytes> RegistryClient::GetManifest(const std::string& repo,
                                                  const std::string& identifier) {
  Result<oci::Digest> want = oci::Digest::Parse(identifier);
  std::string name = registry_ + "/" + repo + (want.ok() ? "@" : ":") + identifier;
  ManifestBytes out;
  Status mismatch;  // the last answer's bytes did not match the digest they were sent for
  Status fetched = WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    mismatch = Status();
    http::Request req{.url = Url(repo, "manifests/" + identifier)};
    req.headers.emplace_back("Accept", std::string(oci::kManifestAccept));
    req.max_body = kMaxManifestBytes;
    Result<http::Response> r = Send(req, PullScope(repo));
    if (!r.ok() && r.status().code() == Code::kResourceExhausted) {
      return ResourceExhausted("manifest " + name + " is larger than 4 MiB; refusing it");
    }
    RETURN_IF_ERROR(r.status());
    if (r->status != 200) {
      NoteRetryAfter(*r, ra);
      return Error(*r, "manifest " + name);
    }
    out.bytes = std::move(r->body);
    out.media_type = StripParams(r->Header("content-type").value_or(""));
    out.digest = oci::Sha256Of(out.bytes);
    // By digest, the bytes must hash to it; by tag, to the digest the registry names in
    // Docker-Content-Digest (when it sends one). A mismatch is damage in transit: fetch again.
    Result<oci::Digest> named =
        want.ok() ? want : oci::Digest::Parse(r->Header("docker-content-digest").value_or(""));
    if (named.ok() && out.digest != *named) {
      mismatch = DataLoss("manifest " + name + ": registry sent bytes whose digest is " +
                          out.digest.ToString() + ", not " + named->ToString());
      return Unavailable(mismatch.message());
    }
    return Status();
  });
  if (!mismatch.ok()) return mismatch;
  RETURN_IF_ERROR(fetched);
  if (!oci::IsManifestType(out.media_type) && !oci::IsIndexType(out.media_type)) {
    Result<std::string> sniffed = oci::SniffMediaType(out.bytes);
    if (sniffed.ok() && !sniffed->empty()) out.media_type = *sniffed;
  }
  return out;
}

Result<std::optional<oci::Descriptor>> RegistryClient::HeadManifest(const std::string& repo,
                                                                    const std::string& identifier) {
  std::optional<oci::Descriptor> out;
  bool need_get = false;
  RETURN_IF_ERROR(WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    http::Request req{.method = "HEAD", .url = Url(repo, "manifests/" + identifier)};
    req.headers.emplace_back("Accept", std::string(oci::kManifestAccept));
    ASSIGN_OR_RETURN(http::Response r, Send(req, PullScope(repo)));
    if (r.status == 404) return Status();
    if (r.status != 200) {
      NoteRetryAfter(r, ra);
      return Error(r, "manifest " + registry_ + "/" + repo + ":" + identifier);
    }
    auto digest = oci::Digest::Parse(r.Header("docker-content-digest").value_or(""));
    std::optional<int64_t> length = ParseLength(r.Header("content-length").value_or(""));
    if (!digest.ok() || !length) {  // GET tells what HEAD did not
      need_get = true;
      return Status();
    }
    oci::Descriptor d;
    d.media_type = StripParams(r.Header("content-type").value_or(""));
    d.digest = *digest;
    d.size = *length;
    out = std::move(d);
    return Status();
  }));
  if (need_get) {
    ASSIGN_OR_RETURN(ManifestBytes m, GetManifest(repo, identifier));
    oci::Descriptor d;
    d.media_type = m.media_type;
    d.digest = m.digest;
    d.size = static_cast<int64_t>(m.bytes.size());
    out = std::move(d);
  }
  return out;
}

Result<oci::Digest> RegistryClient::PutManifest(const std::string& repo,
                                                const std::string& tag_or_digest,
                                                const std::string& media_type,
                                                const std::string& bytes) {
  const oci::Digest digest = oci::Sha256Of(bytes);
  RETURN_IF_ERROR(WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    http::Request req{.method = "PUT", .url = Url(repo, "manifests/" + tag_or_digest)};
    req.headers.emplace_back("Content-Type", media_type);
    req.body = bytes;
    ASSIGN_OR_RETURN(http::Response r, Send(req, PushScope(repo)));
    if (r.status != 201 && r.status != 200) {
      NoteRetryAfter(r, ra);
      return Error(r, "push manifest " + registry_ + "/" + repo + ":" + tag_or_digest);
    }
    // The registry names what it stored; other bytes (damaged in transit) must not stay under
    // the tag: send them again.
    auto stored = oci::Digest::Parse(r.Header("docker-content-digest").value_or(""));
    if (stored.ok() && *stored != digest) {
      return Unavailable("push manifest " + registry_ + "/" + repo + ":" + tag_or_digest +
                         ": the registry stored " + stored->ToString() + ", not " +
                         digest.ToString());
    }
    return Status();
  }));
  return digest;
}

Status RegistryClient::DeleteManifest(const std::string& repo, const oci::Digest& digest) {
  return WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    http::Request req{.method = "DELETE", .url = Url(repo, "manifests/" + digest.ToString())};
    ASSIGN_OR_RETURN(http::Response r, Send(req, PushScope(repo)));
    if (r.status != 202 && r.status != 200) {
      NoteRetryAfter(r, ra);
      return Error(r, "delete manifest " + registry_ + "/" + repo + "@" + digest.ToString());
    }
    return Status();
  });
}

Result<std::vector<std::string>> RegistryClient::ListTags(const std::string& repo) {
  std::vector<std::string> tags;
  std::string url = Url(repo, "tags/list?n=1000");
  while (!url.empty()) {
    std::string next;
    RETURN_IF_ERROR(WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
      ASSIGN_OR_RETURN(http::Response r, Send(http::Request{.url = url}, PullScope(repo)));
      if (r.status != 200) {
        NoteRetryAfter(r, ra);
        return Error(r, "tags of " + registry_ + "/" + repo);
      }
      Result<nlohmann::json> parsed = ParseJsonLimited(r.body, "");
      if (!parsed.ok() || !parsed->is_object()) {
        return FailedPrecondition("tags of " + repo + ": not a JSON object");
      }
      const nlohmann::json& doc = *parsed;
      if (auto t = doc.find("tags"); t != doc.end() && t->is_array()) {
        for (const auto& v : *t) {
          if (v.is_string()) tags.push_back(v.get<std::string>());
        }
      }
      if (auto link = r.Header("link")) {  // </v2/repo/tags/list?n=..&last=..>; rel="next"
        size_t a = link->find('<'), b = link->find('>');
        if (a != std::string::npos && b != std::string::npos && b > a) {
          next = http::ResolveUrl(url, link->substr(a + 1, b - a - 1));
        }
      }
      return Status();
    }));
    url = next;
  }
  return tags;
}

Result<std::optional<int64_t>> RegistryClient::HeadBlob(const std::string& repo,
                                                        const oci::Digest& digest) {
  std::optional<int64_t> out;
  RETURN_IF_ERROR(WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    http::Request req{.method = "HEAD", .url = Url(repo, "blobs/" + digest.ToString())};
    ASSIGN_OR_RETURN(http::Response r, Send(req, PullScope(repo)));
    if (r.status == 404) return Status();
    if (r.status != 200) {
      NoteRetryAfter(r, ra);
      return Error(r, "blob " + digest.ToString() + " in " + registry_ + "/" + repo);
    }
    auto length = r.Header("content-length");
    if (!length) {
      out = -1;  // size unknown
      return Status();
    }
    out = ParseLength(*length);
    if (!out) {
      return FailedPrecondition("blob " + digest.ToString() + " in " + registry_ + "/" + repo +
                                ": registry sent an invalid Content-Length \"" + *length + "\"");
    }
    return Status();
  }));
  return out;
}

Status RegistryClient::GetBlobRange(const std::string& repo, const oci::Digest& digest,
                                    uint64_t offset, std::optional<uint64_t> end,
                                    const http::BodySink& sink) {
  std::string what = "blob " + digest.ToString() + " in " + registry_ + "/" + repo;
  http::Request req{.url = Url(repo, "blobs/" + digest.ToString())};
  bool ranged = offset > 0 || end.has_value();
  if (ranged) {
    req.headers.emplace_back("Range", end ? fmt::format("bytes={}-{}", offset, *end - 1)
                                          : fmt::format("bytes={}-", offset));
  }
  uint64_t skip = 0;
  req.on_response = [&](long status, const http::Headers& headers) -> Status {
    if (!ranged) return Status();
    if (status == 200) {
      if (end) return Unimplemented(what + ": registry ignores Range requests");
      skip = offset;  // a whole body: drop the prefix we already have
    }
    if (status == 206) {  // checked before any byte reaches the sink
      std::string cr;
      for (const auto& [k, v] : headers) {
        if (k == "content-range") cr = v;
      }
      if (!cr.starts_with(fmt::format("bytes {}-", offset))) {
        return Unavailable(
            fmt::format("{}: registry answered range \"{}\" for offset {}", what, cr, offset));
      }
    }
    return Status();
  };
  req.on_body = [&](std::string_view chunk) -> Status {
    if (skip > 0) {
      size_t k = std::min<uint64_t>(skip, chunk.size());
      skip -= k;
      chunk.remove_prefix(k);
      if (chunk.empty()) return Status();
    }
    return sink(chunk);
  };
  ASSIGN_OR_RETURN(http::Response r, Send(req, PullScope(repo)));
  if (r.status == 416 && ranged) {
    return DataLoss(fmt::format("{}: registry refused range starting at {}", what, offset));
  }
  if (r.status != 200 && r.status != 206) return Error(r, what);
  return Status();
}

Result<bool> RegistryClient::MountBlob(const std::string& repo, const oci::Digest& digest,
                                       const std::string& from_repo) {
  bool mounted = false;
  RETURN_IF_ERROR(WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    http::Request req{
        .method = "POST",
        .url = Url(repo, "blobs/uploads/?mount=" + digest.ToString() + "&from=" + from_repo)};
    ASSIGN_OR_RETURN(http::Response r, Send(req, PushScope(repo) + " " + PullScope(from_repo)));
    if (r.status == 201) {
      mounted = true;
      return Status();
    }
    if (r.status == 202) return Status();
    NoteRetryAfter(r, ra);
    return Error(r, "mount " + digest.ToString() + " from " + from_repo + " into " + repo);
  }));
  return mounted;
}

}  // namespace modelcar::registry
