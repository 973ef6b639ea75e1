// Fetching one blob from a registry into a file, verified, resumable and in parallel parts.
//
// FetchBlobToFile(client, repo, d, final_path, partial_path):
//   - bytes land in `partial_path` first; bytes already there (an earlier run was interrupted)
//     are hashed once and the download resumes after them with a Range request;
//   - a big blob (size >= 2 * part_size) is fetched as parallel ranged parts (up to max_parts in
//     flight), written in place with pwrite; the SHA-256 is computed in order while parts arrive
//     by reading the completed prefix back (from the page cache) — the network body is not stored
//     twice and the file is not re-read after the download;
//   - transient failures (connection reset, truncated body, 5xx, 429 with Retry-After) resume from
//     the bytes received, bounded by the client's RetryPolicy (counted per stall, reset by
//     progress);
//   - the result is renamed to `final_path` only after size and digest match `d`; a mismatch
//     deletes the partial file and fails with DataLoss naming the blob;
//   - on cancellation or a permanent error the partial file is truncated to its verified-contiguous
//     prefix, so the next run resumes from there; a parallel download keeps every part's bytes
//     and records them in `partial_path`.parts (registry/parts_file.h), so the next run (even after
//     kill -9) resumes each part where it stopped.
// Thread safety: one call per (partial_path); calls for different blobs may run concurrently.
#ifndef MODELCAR_REGISTRY_BLOB_FETCH_H_
#define MODELCAR_REGISTRY_BLOB_FETCH_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "oci/descriptor.h"
#include "registry/client.h"
#include "registry/retry.h"

namespace modelcar::registry {

struct FetchOptions {
  uint64_t part_size = uint64_t{64} << 20;  // ranged parts of at least this size
  int max_parts = 8;                        // parts in flight for one blob
};

// One attempt at bytes [offset, end) of a blob (`end` nullopt: to the end of the blob), passed in
// order to `sink`. RegistryClient::GetBlobRange is the source of every registry download; a unit
// test passes a fake.
using RangeSource =
    std::function<Status(uint64_t offset, std::optional<uint64_t> end, const http::BodySink& sink)>;
// Receives the bytes of a range with the blob offset of their first byte.
using RangeWriter = std::function<Status(std::string_view chunk, uint64_t offset)>;

// The one resume and retry policy of every blob download (FetchBlobToFile, StreamBlob and
// FetchBlobVerified below: `pull --layout`, and the store pulls of `pull --store`, mount, fetch,
// sidecar, serve oci:// and the cache agent): fetches bytes [start, end) of a `size`-byte blob
// from `source`, every byte passed exactly once and in order to `write`. An attempt that fails
// with Unavailable (reset, stall, truncated body, 5xx), ends short, or sends more than asked is
// retried from the first byte not yet written, after BackoffDelay(policy, failures). A failed
// attempt that made progress starts a new series of failures (it counts as the first);
// `policy.max_attempts` failures in one series give up (Unavailable, "gave up after N attempts
// without progress"). Any
// other error of `source` or `write` is returned at once. `what` names the blob in errors.
Status FetchRange(const RangeSource& source, const RetryPolicy& policy, const std::string& what,
                  uint64_t size, uint64_t start, uint64_t end, const RangeWriter& write);

// Progress callback: bytes newly received (negative when counted bytes were discarded).
using ByteCounter = std::function<void(int64_t delta)>;

Status FetchBlobToFile(RegistryClient& client, const std::string& repo, const oci::Descriptor& d,
                       const std::string& final_path, const std::string& partial_path,
                       const FetchOptions& options, const ByteCounter& on_bytes = {});

// Streams bytes [offset, size) of a blob to `sink`, without verifying the digest (the caller
// hashes: the node store checks each layer as it unpacks it). Transient failures (resets,
// truncated bodies, stalls, 5xx, a wrong Content-Range) resume after the bytes already passed to
// the sink, bounded by the client's RetryPolicy counted per stall (reset by progress); more bytes
// than the blob has are DataLoss. What FetchBlobToFile and FetchBlobVerified do on the wire.
Status StreamBlob(RegistryClient& client, const std::string& repo, const oci::Descriptor& d,
                  uint64_t offset, const http::BodySink& sink);

// Streams a whole blob to `sink`, verifying size and digest at the end (DataLoss otherwise: the
// caller must then discard what the sink received). Retries resume after the bytes already passed
// to the sink.
Status FetchBlobVerified(RegistryClient& client, const std::string& repo, const oci::Descriptor& d,
                         const http::BodySink& sink);

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_BLOB_FETCH_H_
