// Layers from other nodes' mirrors (`store serve`, registry_api.h) before the registry: the
// client side of pulls that ask peers first (`--peers URL[,URL...]`).
//
// For a blob, PeerSource asks the peers for its piece list (GET /modelcar/v1/pieces/<digest>),
// in rendezvous order of the blob digest, and keeps the first list whose digest, size and shape
// match the descriptor. Every piece is then fetched with a Range GET from the peers in rendezvous
// order of (digest, piece index), so the pieces of one layer spread over every peer that holds
// it. Peers marked `near` (this node's zone) come first in both orders, each group in rendezvous
// order: the pieces spread over the near holders, and the others are asked only for what no near
// peer supplies. Up to `window` pieces in flight, and each piece is hashed against the list before
// any byte of it reaches the sink (bytes reach the sink in order). A peer that answers 404 for a
// blob is not asked for that blob again; a peer that sends a piece that does not match, a short or
// long body, an error or nothing for `stall_s` seconds is not asked for anything again by this
// PeerSource. When no peer can supply a piece (or none has the blob), Stream stops with
// Unavailable (NotFound when no peer had a list) and reports the bytes it passed to the sink:
// the caller continues from there with the registry.
//
// Trust: a peer publishes piece lists only for layers whose digest it verified, but a lying peer
// can send a list that matches its own lies. The layer digest, checked by the store when the
// layer ends (store/ingest.h), stays the final check; the caller then retries the image from the
// registry alone (node/store_pull.h). No unverified byte is committed either way.
//
// Thread safety: Stream() may be called from several threads; the peers' state is shared.
#ifndef MODELCAR_PEER_PEER_SOURCE_H_
#define MODELCAR_PEER_PEER_SOURCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "http/client.h"
#include "oci/descriptor.h"
#include "peer/pieces.h"

namespace modelcar::peer {

struct PeerSourceOptions {
  std::vector<std::string> peers;  // base URLs: http://HOST:PORT (a trailing '/' is ignored)
  std::set<std::string> near;      // those of `peers` asked first (same zone)
  int window = 4;                  // pieces in flight
  long stall_s = 10;               // a peer that moves no byte this long is dropped
  long connect_timeout_s = 2;
  std::function<void(std::string_view)> log;  // one line per dropped peer or fallback (optional)
};

// "--peers": comma-separated http(s) base URLs; InvalidArgument naming a bad one.
Result<std::vector<std::string>> ParsePeers(const std::vector<std::string>& values);

struct PeerStats {
  uint64_t bytes = 0;     // verified bytes passed to sinks
  uint64_t pieces = 0;    // verified pieces
  uint64_t rejected = 0;  // pieces that failed their hash or length
};

class PeerSource {
 public:
  explicit PeerSource(PeerSourceOptions options);

  // Streams bytes [offset, d.size) of blob `d` (repository `repo`, used in the URL only) to
  // `sink`, verified piece by piece. `*delivered` is set to the bytes passed to the sink (also on
  // failure). OK when the whole rest of the blob was delivered; NotFound when no peer has a usable
  // piece list; Unavailable when the peers stopped delivering; an error of `sink` as is.
  Status Stream(const std::string& repo, const oci::Descriptor& d, uint64_t offset,
                const std::function<Status(std::string_view)>& sink, uint64_t* delivered);

  // The piece list of `d` from the first peer that serves one (a peer holding it committed);
  // NotFound when none does.
  Result<PieceList> List(const oci::Descriptor& d) { return FetchList(d); }

  PeerStats stats() const;
  bool empty() const { return options_.peers.empty(); }

 private:
  Result<PieceList> FetchList(const oci::Descriptor& d);
  Result<std::string> FetchPiece(const std::string& repo, const PieceList& list, uint64_t index);
  Result<std::string> GetPiece(const std::string& peer, const std::string& repo,
                               const PieceList& list, uint64_t index);
  // Indexes into options_.peers in the order to ask them for piece `index` of `d`.
  std::vector<size_t> Order(const oci::Digest& d, uint64_t index) const;
  bool Usable(const std::string& peer, const oci::Digest& d) const;
  void Drop(const std::string& peer, const std::string& why);
  void Log(const std::string& line) const;

  PeerSourceOptions options_;
  std::unique_ptr<http::Client> client_;
  mutable std::mutex mu_;
  std::set<std::string> dropped_;                          // peers not asked again
  std::set<std::pair<std::string, oci::Digest>> missing_;  // (peer, blob) answered 404
  PeerStats stats_;
};

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_PEER_SOURCE_H_
