// The read-only OCI distribution API over a node store: what `modelcar store serve` answers and
// what containerd uses as a registry mirror (hosts.toml, capability "pull").
//
//   GET  /v2/                              200 {} (API version check)
//   HEAD/GET /v2/<name>/manifests/<digest> a manifest of a servable tree (blob_index.h)
//   HEAD/GET /v2/<name>/blobs/<digest>     its config and layers; Range (one range) answered 206
//   GET /modelcar/v1/pieces/<digest>       the piece list (pieces.h) of a layer it serves, for
//                                          peers that pull from it (peer_source.h)
//   GET /modelcar/v1/node                  {"id", "pieceSize"}: who this node is (swarm.h)
//
// A layer this node is still receiving (a pull with peers spools the pieces it owns,
// piece_spool.h) is not in the index: a blob GET whose Range is exactly one of its pieces is
// answered from the spool (206 with Modelcar-Piece-Digest), 503 PIECE_PENDING (with
// Modelcar-Spool-Progress) while the piece is claimed by a live pull, and 404 otherwise. A Range
// of exactly one piece of a served layer carries Modelcar-Piece-Digest too.
//
// By digest only: tags, listings, uploads and deletes are not served (404 or 405). The repository
// name is checked for syntax but not matched (content is addressed by digest; containerd's ?ns=
// is accepted and ignored). Every answer that carries content has Docker-Content-Digest, and blob
// answers Content-Length and Accept-Ranges: bytes.
//
// Verification: manifests and configs are read with Store::ReadBlob (hashed on every read); layers
// are rebuilt from the tree and hashed while they stream (tree_layers.h): a mismatch stops the
// body before its last byte, so the client sees a short transfer and falls back.
// A digest the store does not serve is a 404 from memory (no disk access beyond the index's
// rate-limited rescans).
//
// Thread safety: Handle() may run on many server threads at once.
#ifndef MODELCAR_PEER_REGISTRY_API_H_
#define MODELCAR_PEER_REGISTRY_API_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "http/server.h"
#include "peer/blob_index.h"
#include "peer/piece_spool.h"
#include "peer/pieces.h"
#include "peer/tree_layers.h"
#include "store/store.h"

namespace modelcar::peer {

inline constexpr std::string_view kPiecesPrefix = "/modelcar/v1/pieces/";

struct RegistryApiOptions {
  BlobIndexOptions index;
  uint64_t piece_size = kDefaultPieceSize;    // the piece lists used to verify ranges
  std::function<void(std::string_view)> log;  // one line per failed transfer (optional)
};

class RegistryApi {
 public:
  RegistryApi(store::Store store, RegistryApiOptions options);

  // Adds the /v2/ routes to `server` (before it starts). `this` must outlive the server.
  void Register(http::Server& server);

  http::ServerResponse Handle(const http::ServerRequest& request);
  // GET /modelcar/v1/pieces/<digest>: the piece list of a served layer (JSON, pieces.h).
  http::ServerResponse HandlePieces(const http::ServerRequest& request);
  // GET /modelcar/v1/node: {"id": the store's id, "pieceSize"} (who this node is, for swarm.h).
  http::ServerResponse HandleNode(const http::ServerRequest& request);

  // Prometheus text: requests by outcome, bytes served, verification failures.
  std::string Metrics() const;

  BlobIndex& index() { return index_; }
  TreeLayers& layers() { return layers_; }

 private:
  http::ServerResponse Blob(const http::ServerRequest& r, const BlobLocation& loc,
                            const oci::Digest& d);
  http::ServerResponse LayerBlob(const http::ServerRequest& r, const BlobLocation& loc,
                                 const oci::Digest& d);
  // A Range of exactly one piece of a layer the node is still receiving (piece_spool.h): 206
  // with the piece's hash, 503 PIECE_PENDING, or status 200 (an empty answer: not spooled).
  http::ServerResponse SpooledBlob(const http::ServerRequest& r, const oci::Digest& d);
  void Log(const std::string& line) const;

  store::Store store_;
  RegistryApiOptions options_;
  BlobIndex index_;
  TreeLayers layers_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, bad_requests_{0}, bytes_{0}, cut_{0}, pending_{0};
  std::atomic<int64_t> last_spool_sweep_s_{0};
  SpoolHashCache spool_hashes_;  // steady-clock seconds of the last spool sweep
};

// {"errors":[{"code":CODE,"message":MESSAGE}]} with the given status.
http::ServerResponse DistributionError(int status, std::string_view code, std::string_view message);

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_REGISTRY_API_H_
