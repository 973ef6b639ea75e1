// Blob uploads of RegistryClient: POST to start, then one monolithic PUT or a series of chunked
// PATCHes (Content-Range) and a closing PUT with ?digest=. Upload URLs keep their query
// (distribution's _state) and get "&digest=" appended.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "registry/client.h"

namespace modelcar::registry {
namespace {

using RetryAfter = std::optional<std::chrono::milliseconds>;

std::string AppendQuery(const std::string& url, const std::string& kv) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

std::optional<uint64_t> UploadedUpTo(const http::Response& r) {
  auto range = r.Header("range");
  if (!range) return std::nullopt;
  std::string_view v = *range;
  if (v.starts_with("bytes=")) v.remove_prefix(6);
  size_t dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  uint64_t first = 0, last = 0;
  auto [p, ec] = std::from_chars(v.data() + dash + 1, v.data() + v.size(), last);
  if (ec != std::errc()) return std::nullopt;
  std::from_chars(v.data(), v.data() + dash, first);
  // "0-0" is what docker-registry sends for an empty upload (it cannot say "0--1"); reading it
  // as one byte would skip the blob's first byte on resume.
  if (first == 0 && last == 0) return 0;
  return last + 1;
}

// A reader that yields exactly `n` bytes of `inner`, reporting them to `on_bytes`.
http::BodyReader Limited(http::BodyReader* inner, uint64_t n,
                         const std::function<void(int64_t)>& on_bytes, int64_t* sent) {
  auto remaining = std::make_shared<uint64_t>(n);
  return [inner, remaining, on_bytes, sent](char* buf, size_t cap) -> Result<size_t> {
    size_t want = static_cast<size_t>(std::min<uint64_t>(cap, *remaining));
    if (want == 0) return size_t{0};
    ASSIGN_OR_RETURN(size_t got, (*inner)(buf, want));
    if (got == 0) return DataLoss("blob content ended before its declared size");
    *remaining -= got;
    *sent += static_cast<int64_t>(got);
    if (on_bytes) on_bytes(static_cast<int64_t>(got));
    return got;
  };
}

}  // namespace

Result<std::string> RegistryClient::StartUpload(const std::string& repo, uint64_t* min_chunk) {
  std::string location;
  RETURN_IF_ERROR(WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    http::Request req{.method = "POST", .url = Url(repo, "blobs/uploads/")};
    ASSIGN_OR_RETURN(http::Response r, Send(req, PushScope(repo)));
    if (r.status != 202) {
      if (auto v = r.Header("retry-after")) *ra = ParseRetryAfter(*v);
      return Error(r, "start upload to " + registry_ + "/" + repo);
    }
    auto loc = r.Header("location");
    if (!loc) return FailedPrecondition("registry " + registry_ + ": upload without Location");
    location = http::ResolveUrl(req.url, *loc);
    if (min_chunk) {
      *min_chunk = 0;
      if (auto m = r.Header("oci-chunk-min-length")) {
        std::from_chars(m->data(), m->data() + m->size(), *min_chunk);
      }
    }
    return Status();
  }));
  return location;
}

Status RegistryClient::UploadMonolithic(const std::string& repo, const oci::Digest& digest,
                                        uint64_t size, const BlobOpener& open,
                                        const std::function<void(int64_t)>& on_bytes) {
  std::string what = "upload blob " + digest.ToString() + " to " + registry_ + "/" + repo;
  return WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    ASSIGN_OR_RETURN(std::string location, StartUpload(repo, nullptr));
    ASSIGN_OR_RETURN(http::BodyReader reader, open(0));
    int64_t sent = 0;
    http::Request req{.method = "PUT", .url = AppendQuery(location, "digest=" + digest.ToString())};
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    req.body_reader = Limited(&reader, size, on_bytes, &sent);
    req.body_size = static_cast<int64_t>(size);
    Result<http::Response> r = Send(req, PushScope(repo));
    if (!r.ok() || r->status != 201) {
      if (!r.ok() && r.status().code() == Code::kUnavailable && Committed(repo, digest)) {
        return Status();  // the registry took the blob; only its answer was lost
      }
      if (on_bytes && sent) on_bytes(-sent);  // this attempt's bytes do not count
      RETURN_IF_ERROR(r.status());
      if (auto v = r->Header("retry-after")) *ra = ParseRetryAfter(*v);
      return Error(*r, what);
    }
    return Status();
  });
}

Status RegistryClient::UploadChunked(const std::string& repo, const oci::Digest& digest,
                                     uint64_t size, const BlobOpener& open, uint64_t chunk_size,
                                     const std::function<void(int64_t)>& on_bytes, bool* rejected) {
  std::string what =
      "chunked upload of blob " + digest.ToString() + " to " + registry_ + "/" + repo;
  uint64_t min_chunk = 0;
  ASSIGN_OR_RETURN(std::string location, StartUpload(repo, &min_chunk));
  uint64_t chunk = std::max<uint64_t>({chunk_size, min_chunk, 1});
  uint64_t offset = 0;
  int64_t acked_total = 0;  // bytes reported to on_bytes and accepted by the registry
  ASSIGN_OR_RETURN(http::BodyReader reader, open(0));
  int failures = 0;
  while (offset < size) {
    uint64_t n = std::min(chunk, size - offset);
    int64_t sent = 0;
    http::Request req{.method = "PATCH", .url = location};
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    req.headers.emplace_back("Content-Range", fmt::format("{}-{}", offset, offset + n - 1));
    req.body_reader = Limited(&reader, n, on_bytes, &sent);
    req.body_size = static_cast<int64_t>(n);
    Result<http::Response> r = Send(req, PushScope(repo));
    if (r.ok() && r->status == 202) {
      auto loc = r->Header("location");
      if (loc) location = http::ResolveUrl(location, *loc);
      std::optional<uint64_t> up = UploadedUpTo(*r);
      offset = up && *up > 0 ? *up : offset + n;  // "0-0" after a 1-byte PATCH means 1 byte
      acked_total += sent;
      continue;
    }
    if (on_bytes && sent) on_bytes(-sent);
    if (r.ok() && !IsRetryableHttp(r->status) && r->status != 416) {
      if (offset == 0 && r->status != 401 && r->status != 403) *rejected = true;
      return Error(*r, what);
    }
    if (!r.ok() && r.status().code() != Code::kUnavailable) return r.status();
    // Transient failure or 416: ask the registry how much it has, then resume from there.
    if (++failures >= options_.retry.max_attempts) {
      return r.ok() ? Error(*r, what) : r.status().WithContext(what);
    }
    RETURN_IF_ERROR(SleepUnlessCancelled(BackoffDelay(options_.retry, failures, std::nullopt)));
    // The status request is retried like the PATCH (same failure budget).
    Result<http::Response> asked = Send(http::Request{.url = location}, PushScope(repo));
    while ((!asked.ok() && asked.status().code() == Code::kUnavailable) ||
           (asked.ok() && IsRetryableHttp(asked->status))) {
      if (++failures >= options_.retry.max_attempts) {
        return asked.ok() ? Error(*asked, what + ": upload status")
                          : asked.status().WithContext(what + ": upload status");
      }
      RETURN_IF_ERROR(SleepUnlessCancelled(BackoffDelay(options_.retry, failures, std::nullopt)));
      asked = Send(http::Request{.url = location}, PushScope(repo));
    }
    RETURN_IF_ERROR(asked.status());
    const http::Response& st = *asked;
    if (st.status == 404 || st.status == 400) {
      // The registry no longer accepts this upload URL. docker-registry signs the offset into
      // the URL (_state), so after a PATCH it applied but whose answer was lost, the URL we hold
      // is stale (404 BLOB_UPLOAD_INVALID); other registries drop expired uploads. Start over.
      ASSIGN_OR_RETURN(location, StartUpload(repo, nullptr));
      offset = 0;
    } else if (st.status != 204 && st.status != 200) {
      return Error(st, what + ": upload status");
    } else {
      if (auto loc = st.Header("location")) location = http::ResolveUrl(location, *loc);
      offset = UploadedUpTo(st).value_or(0);
    }
    if (on_bytes) on_bytes(static_cast<int64_t>(offset) - acked_total);
    acked_total = static_cast<int64_t>(offset);
    ASSIGN_OR_RETURN(reader, open(offset));
  }
  return CommitUpload(repo, location, digest);
}

Result<std::string> RegistryClient::PatchStream(const std::string& repo,
                                                const std::string& location,
                                                const http::BodyReader& reader) {
  http::Request req{.method = "PATCH", .url = location};
  req.headers.emplace_back("Content-Type", "application/octet-stream");
  req.body_reader = reader;
  req.body_size = -1;
  ASSIGN_OR_RETURN(http::Response r, Send(req, PushScope(repo)));
  if (r.status != 202) return Error(r, "streamed upload to " + registry_ + "/" + repo);
  auto loc = r.Header("location");
  return loc ? http::ResolveUrl(location, *loc) : location;
}

Status RegistryClient::CommitUpload(const std::string& repo, const std::string& location,
                                    const oci::Digest& digest) {
  return WithRetries(options_.retry, [&](RetryAfter* ra) -> Status {
    http::Request req{.method = "PUT", .url = AppendQuery(location, "digest=" + digest.ToString())};
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    Result<http::Response> r = Send(req, PushScope(repo));
    if (r.ok() && r->status == 201) return Status();
    // A commit whose answer was lost closed the upload: a retry then gets 404, but the blob is
    // there.
    if ((!r.ok() && r.status().code() == Code::kUnavailable) || (r.ok() && r->status == 404) ||
        (r.ok() && IsRetryableHttp(r->status))) {
      if (Committed(repo, digest)) return Status();
    }
    RETURN_IF_ERROR(r.status());
    if (auto v = r->Header("retry-after")) *ra = ParseRetryAfter(*v);
    return Error(*r, "commit blob " + digest.ToString() + " to " + registry_ + "/" + repo);
  });
}

bool RegistryClient::Committed(const std::string& repo, const oci::Digest& digest) {
  Result<std::optional<int64_t>> have = HeadBlob(repo, digest);
  return have.ok() && have->has_value();
}

Status RegistryClient::PushBlob(const std::string& repo, const oci::Digest& digest, uint64_t size,
                                const BlobOpener& open, UploadMode mode, uint64_t chunk_size,
                                const std::function<void(int64_t)>& on_bytes) {
  if (mode == UploadMode::kChunked) {
    bool rejected = false;
    return UploadChunked(repo, digest, size, open, chunk_size, on_bytes, &rejected);
  }
  // Monolithic first: one streaming PUT is the fastest on every registry measured (see
  // docs/benchmarks.md). kAuto falls back to chunked when the registry or a proxy in front of it
  // refuses a body that large (413) or the method (405/400).
  Status s = UploadMonolithic(repo, digest, size, open, on_bytes);
  if (s.ok() || mode == UploadMode::kMonolithic) return s;
  bool refused =
      s.code() == Code::kResourceExhausted || (s.code() == Code::kFailedPrecondition &&
                                               (s.message().find("HTTP 405") != std::string::npos ||
                                                s.message().find("HTTP 400") != std::string::npos));
  if (!refused) return s;
  bool rejected = false;
  Status c = UploadChunked(repo, digest, size, open, chunk_size, on_bytes, &rejected);
  return c.ok() ? c : c.WithContext("monolithic upload refused (" + s.message() + "); chunked");
}

}  // namespace modelcar::registry
