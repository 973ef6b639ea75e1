// A client for one OCI distribution registry (the /v2/ API): manifests, blobs, uploads, mounts,
// tags and deletes, with authentication (auth.h) and retries (retry.h) inside.
//
// Every method is one logical operation. Small operations (manifests, HEAD, mount, tags, upload
// start/finish) are retried on transient failures; GetBlobRange and the upload body requests are
// single attempts, because only the caller knows how to resume them (see transfer.h).
//
// Errors name the registry, the repository and the object, and for 401/403 the auth file used.
// Thread safety: all methods are thread-safe (connections are pooled, tokens cached per scope).
#ifndef MODELCAR_REGISTRY_CLIENT_H_
#define MODELCAR_REGISTRY_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "http/client.h"
#include "oci/descriptor.h"
#include "oci/digest.h"
#include "oci/reference.h"
#include "registry/auth.h"
#include "registry/credentials.h"
#include "registry/retry.h"

namespace modelcar::registry {

// Manifests and indexes larger than this are refused (the distribution spec's limit).
inline constexpr uint64_t kMaxManifestBytes = 4 << 20;

struct RegistryOptions {
  std::string authfile;  // --authfile ("" = default search)
  std::string ca_file;   // --ca-file: extra CA bundle (PEM)
  // --insecure: TLS without verification; it also marks the registry insecure, so credentials may
  // go to it (and its token realm) over plain HTTP. Without it, credentials go only over TLS or to
  // a loopback address.
  bool insecure = false;
  // --plain-http: http:// for any registry. Loopback hosts (exactly localhost, 127.0.0.0/8, ::1)
  // use http:// by default unless ca_file or insecure is set (then https://).
  bool plain_http = false;
  RetryPolicy retry;
  long low_speed_time_s = 60;                   // stall detection
  NodeIdentity identity = NodeIdentity::kNone;  // --registry-identity (cache agent, webhook)
};

struct ManifestBytes {
  std::string media_type;
  std::string bytes;
  oci::Digest digest;  // sha256 of bytes, verified against the requested digest if one was asked
};

enum class UploadMode { kAuto, kChunked, kMonolithic };
// "auto" | "chunked" | "monolithic".
Result<UploadMode> ParseUploadMode(std::string_view s);

// Opens a reader positioned at byte `offset` of a blob's content; called again for every retry.
using BlobOpener = std::function<Result<http::BodyReader>(uint64_t offset)>;

class RegistryClient {
 public:
  // `registry` as in Reference::registry(); the API host comes from the reference's ApiHost().
  static Result<std::shared_ptr<RegistryClient>> Create(const oci::Reference& ref,
                                                        const RegistryOptions& options);

  const std::string& registry() const { return registry_; }
  // "https://host" or "http://host".
  const std::string& base_url() const { return base_url_; }

  // GET a manifest or index by tag or digest (Accept: OCI and Docker types). Verifies the bytes
  // against `identifier` when it is a digest; refuses bodies over kMaxManifestBytes.
  Result<ManifestBytes> GetManifest(const std::string& repo, const std::string& identifier);
  // HEAD a manifest: its descriptor (media type, digest, size), or nullopt when absent.
  Result<std::optional<oci::Descriptor>> HeadManifest(const std::string& repo,
                                                      const std::string& identifier);
  // PUT a manifest under `tag_or_digest`; returns the digest of `bytes`.
  Result<oci::Digest> PutManifest(const std::string& repo, const std::string& tag_or_digest,
                                  const std::string& media_type, const std::string& bytes);
  Status DeleteManifest(const std::string& repo, const oci::Digest& digest);
  Result<std::vector<std::string>> ListTags(const std::string& repo);

  // HEAD a blob: its size, or nullopt when the registry does not have it.
  Result<std::optional<int64_t>> HeadBlob(const std::string& repo, const oci::Digest& digest);
  // Streams bytes [offset, end) of a blob (end = nullopt: to the end) to `sink`. Sends Range when
  // needed; a registry that ignores Range (200) has the skipped prefix dropped here. Single
  // attempt.
  Status GetBlobRange(const std::string& repo, const oci::Digest& digest, uint64_t offset,
                      std::optional<uint64_t> end, const http::BodySink& sink);
  // Cross-repository mount from `from_repo` on the same registry. True when mounted (201); false
  // when the registry started an ordinary upload instead (the upload is abandoned).
  Result<bool> MountBlob(const std::string& repo, const oci::Digest& digest,
                         const std::string& from_repo);
  // Uploads a blob of `size` bytes with content from `open`. kAuto sends one streaming PUT and
  // falls back to chunked PATCHes (pieces of `chunk_size`, raised to the registry's
  // OCI-Chunk-Min-Length) when the registry refuses it (413, 405, 400). Chunked retries resume
  // from the registry's acknowledged offset (after a transport error, 5xx or 416: GET of the
  // upload URL, Range); an upload URL the registry no longer accepts (404/400, e.g.
  // docker-registry's signed state gone stale after a lost PATCH answer) starts a new upload;
  // monolithic retries restart. `on_bytes` (optional) is told of bytes sent (negative when
  // discarded).
  Status PushBlob(const std::string& repo, const oci::Digest& digest, uint64_t size,
                  const BlobOpener& open, UploadMode mode, uint64_t chunk_size,
                  const std::function<void(int64_t delta)>& on_bytes = {});

  // The three steps of a streamed upload whose digest is known only at the end (build --push):
  // StartUpload returns the upload URL (and the registry's OCI-Chunk-Min-Length, if any);
  // PatchStream sends `reader` to the end as one PATCH (chunked transfer encoding) and returns
  // the next upload URL (not retried: the stream cannot be replayed); CommitUpload closes the
  // upload with `digest`, retried, and counts as done when an answer was lost but the registry
  // has the blob.
  Result<std::string> StartUpload(const std::string& repo, uint64_t* min_chunk);
  Result<std::string> PatchStream(const std::string& repo, const std::string& location,
                                  const http::BodyReader& reader);
  Status CommitUpload(const std::string& repo, const std::string& location,
                      const oci::Digest& digest);

  const RetryPolicy& retry() const { return options_.retry; }
  std::string auth_source() const { return auth_->auth_source(); }
  // True once the registry challenged this client and it answered with a credential (a pull
  // secret, a helper's or the node's identity), not anonymously.
  bool used_credentials() const { return auth_->has_credential(); }

 private:
  // True when the registry has blob `digest` in `repo` (a commit whose answer was lost went
  // through).
  bool Committed(const std::string& repo, const oci::Digest& digest);
  RegistryClient() = default;
  Result<http::Response> Send(http::Request req, const std::string& scope);
  Status Error(const http::Response& r, const std::string& what) const;
  std::string Url(const std::string& repo, const std::string& rest) const;
  Status UploadMonolithic(const std::string& repo, const oci::Digest& digest, uint64_t size,
                          const BlobOpener& open, const std::function<void(int64_t)>& on_bytes);
  Status UploadChunked(const std::string& repo, const oci::Digest& digest, uint64_t size,
                       const BlobOpener& open, uint64_t chunk_size,
                       const std::function<void(int64_t)>& on_bytes, bool* rejected);

  RegistryOptions options_;
  std::string registry_;
  std::string base_url_;
  std::unique_ptr<http::Client> http_;
  std::unique_ptr<Authenticator> auth_;
};

// Scope strings for Authenticator.
std::string PullScope(const std::string& repo);
std::string PushScope(const std::string& repo);

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_CLIENT_H_
