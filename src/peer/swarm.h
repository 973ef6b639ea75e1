// Nodes that cold-start together: every piece of a layer has one owner among the nodes pulling
// it, only the owner fetches the piece from the registry, and the others take it from the owner
// while the owner is still receiving the layer (docs/peers.md, "Nodes that cold-start together").
//
// Participants: Start() asks every peer GET /modelcar/v1/node ({"id", "pieceSize"}). The node
// itself (its store id) and the peers that answer with the same piece size take part; a peer that
// answers with the node's own id is its own `store serve` and is skipped. Layers that a peer holds
// committed (it serves a verified piece list) are left to PeerSource (peer_source.h) and never
// fetched from the registry by the swarm.
//
// Owners: piece i of layer d belongs to the first participant in RendezvousOrder(ids, d, i) that
// this node has not excluded for d nor dropped. Exclusions only grow, so a piece this node owns
// stays its own.
//
// Owner fetch: background threads fetch every piece this node owns, lowest (layer, piece) first,
// with a registry Range of exactly that piece, hash it and publish it in the spool
// (piece_spool.h); the spool's claims say which pieces will come, so peers wait for them.
//
// Taking pieces: Stream() passes the bytes of a layer to its sink in order, up to `window` pieces
// in flight, each from its owner: this node's own fetcher (read back from the spool and checked
// against its hash), or the owner's `store serve` with a Range GET of exactly the piece. The
// answer must be 206 with Modelcar-Piece-Digest, the right length and that hash, else the peer
// is dropped. 503 (pending) is asked again every `poll_ms` while the peer's spool makes progress
// (a peer with no progress for `stall_s` is dropped); 404 is asked again for `join_grace_ms`
// from that peer's first 404 for the piece (the peer may not have started the layer yet, or not
// yet dropped the peer whose piece it takes over), then it excludes the peer for the layer, and
// the piece moves to the next participant in rendezvous order (possibly this node).
//
// Registries without Range: a fetcher whose piece Range is refused (Unimplemented) switches the
// layer to one owner (piece 0's) for the whole blob, which streams it in one answer and publishes
// each piece as it completes; its spool says so (no-range), and `store serve` tells the peers
// asking for pieces (Modelcar-Registry-No-Range), so every node agrees on that owner.
//
// Trust: the hash of a piece is the owner's, computed over what the registry sent it; it catches
// damaged or altered transfers, not a consistent liar. The layer digest, checked by the store
// before commit, is the final check (the caller pulls the image again from the registry alone
// after a mismatch). A dropped or excluded peer costs time or registry bytes, never a wrong byte.
//
// Thread safety: Stream() may be called from several threads; Finish() once, after the last.
#ifndef MODELCAR_PEER_SWARM_H_
#define MODELCAR_PEER_SWARM_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "http/client.h"
#include "oci/descriptor.h"
#include "peer/peer_source.h"
#include "peer/piece_spool.h"
#include "peer/pieces.h"
#include "peer/tree_layers.h"

namespace modelcar::peer {

inline constexpr std::string_view kNodePath = "/modelcar/v1/node";
inline constexpr std::string_view kPieceDigestHeader = "Modelcar-Piece-Digest";
inline constexpr std::string_view kSpoolProgressHeader = "Modelcar-Spool-Progress";
// On a pending or absent piece: the owner found that the registry ignores Range.
inline constexpr std::string_view kNoRangeHeader = "Modelcar-Registry-No-Range";

// Bytes [start, start + length) of blob `d` from the registry, in order, to `sink` (with the
// registry client's retries). `exact`: always send a Range with both ends, so that a registry
// that ignores Range fails with Unimplemented before it sends the body, even for the last piece
// (which would otherwise come as the whole blob with its prefix dropped).
using RegistryRange = std::function<Status(const oci::Descriptor& d, uint64_t start,
                                           uint64_t length, bool exact, const Sink& sink)>;

struct SwarmOptions {
  std::vector<std::string> peers;  // base URLs (ParsePeers)
  std::string store_root;          // where the spool lives
  std::string self_id;             // this store's id (store::Store::Id)
  uint64_t piece_size = kDefaultPieceSize;
  int window = 8;      // pieces in flight per Stream
  int fetchers = 2;    // registry fetches in flight for owned pieces
  long poll_ms = 100;  // pending pieces asked again after this
  long stall_s = 30;   // a peer whose spool makes no progress this long is dropped
  long join_grace_ms = 5000;
  long connect_timeout_s = 2;
  std::function<void(std::string_view)> log;
};

struct SwarmStats {
  uint64_t peer_bytes = 0;      // verified piece bytes taken from peers' spools
  uint64_t registry_bytes = 0;  // piece bytes this node fetched from the registry as owner
  uint64_t rejected = 0;        // pieces that failed their hash or length
  size_t participants = 0;      // including this node
};

class Swarm {
 public:
  Swarm(SwarmOptions options, RegistryRange registry);
  ~Swarm();  // Finish(false) if not called

  // Finds the participants, leaves the layers a peer holds committed to `verified` (PeerSource),
  // opens the spools of the others and starts the owner fetch. `layers`: the image's layers.
  Status Start(const std::string& repo, const std::vector<oci::Descriptor>& layers);

  // True when Start() made `d` a swarm layer (Stream it here).
  bool Covers(const oci::Digest& d) const;
  // Like PeerSource::Stream: bytes [offset, d.size) to `sink`; `*delivered` the bytes passed.
  // Unavailable when the swarm gave up on the layer (the registry's fetch failed for a piece this
  // node owns); the caller continues from `offset + *delivered` with the registry.
  Status Stream(const std::string& repo, const oci::Descriptor& d, uint64_t offset,
                const Sink& sink, uint64_t* delivered);

  // Stops the owner fetch and releases the spools: peers no longer wait for pieces of this node.
  // With `keep`, a spool that peers read from stays (its pieces are still served to nodes that
  // lag behind) until it has been idle for kSpoolIdleSeconds (RemoveStaleSpools, run by `store
  // serve` and by the next swarm); other spools are removed at once.
  void Finish(bool keep);

  SwarmStats stats() const;
  // The peers (URLs) left to PeerSource for committed layers: the participants but this node.
  std::vector<std::string> peer_urls() const;

 private:
  enum class PieceState { kNone, kFetching, kDone, kFailed };
  struct Layer {
    oci::Descriptor desc;
    PieceGeometry g;
    std::unique_ptr<SpoolWriter> spool;  // null: this node owns nothing of it
    std::vector<PieceState> state;
    std::vector<std::vector<size_t>> order;  // per piece: participants in rendezvous order
    std::set<size_t> excluded;               // participants excluded for this layer
    // (participant, piece) -> when that owner first answered that the piece is absent there.
    std::map<std::pair<size_t, uint64_t>, std::chrono::steady_clock::time_point> absent_since;
    bool failed = false;                     // the registry failed a piece this node owns
    bool whole = false;          // the registry ignores Range: piece 0's owner owns every piece
    bool whole_running = false;  // a fetcher streams the blob (one at a time)
  };
  struct Participant {
    std::string id;
    std::string url;  // "" for this node
  };
  enum class Answer { kPiece, kPending, kAbsent, kBad };

  size_t OwnerLocked(const Layer& l, uint64_t i) const;
  void WriteClaimsLocked();
  void FetchLoop();
  // Piece i of `l` from its owner, verified; Cancelled once `abandoned` is set.
  Result<std::string> TakePiece(const std::string& repo, Layer& l, uint64_t i,
                                const std::atomic<bool>& abandoned);
  Answer AskPeer(const std::string& repo, const Participant& p, const Layer& l, uint64_t i,
                 std::string* bytes, int64_t* progress, std::string* why, bool* no_range);
  // Fetches pieces [first, last] of `l` from the registry in one answer and publishes each
  // (`exact`: see RegistryRange).
  Status FetchRun(Layer& l, uint64_t first, uint64_t last, bool exact);
  void DropLocked(size_t p, const std::string& why);
  void Log(const std::string& line) const;

  SwarmOptions options_;
  RegistryRange registry_;
  std::unique_ptr<http::Client> client_;
  std::string repo_;
  std::vector<Participant> parts_;  // [0] is this node

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<oci::Digest, std::unique_ptr<Layer>> layers_;
  std::vector<oci::Digest> order_;  // swarm layers in manifest order
  std::set<size_t> dropped_;
  std::map<size_t, std::pair<int64_t, std::chrono::steady_clock::time_point>> progress_;
  uint64_t version_ = 0, claimed_version_ = ~uint64_t{0};
  bool stop_ = false, finished_ = false;
  SwarmStats stats_;
  std::vector<std::thread> fetchers_;
};

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_SWARM_H_
