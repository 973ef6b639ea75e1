// `modelcar pull REF --store DIR`: a registry image into the node store (store/ingest.h).
//
// Pull policies, as Kubernetes' imagePullPolicy:
//   - if-not-present (default): a ref already in the store costs no network at all: a digest ref
//     whose tree is committed (verified when it was pulled; `store verify` re-checks), or a tag
//     the store has a ref for;
//   - always: the manifest is resolved on the registry (layers already present are not fetched
//     again: the tree is keyed by manifest digest);
//   - never: only the store; NotFound-like FailedPrecondition when absent.
// Before downloading, free space on the store's filesystem is compared with the image size:
// unleased trees are evicted (LRU) if that is enough, else the pull is refused with a message
// stating needed and free bytes (store/gc.h EnsureSpace).
// With peers, layers come from them first, piece by piece, and from the registry for what they do
// not supply; if the image then fails to verify (a lying peer), it is pulled again from the
// registry alone.
#ifndef MODELCAR_NODE_STORE_PULL_H_
#define MODELCAR_NODE_STORE_PULL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "oci/digest.h"
#include "registry/client.h"
#include "store/store.h"

namespace modelcar {

enum class PullPolicy { kAlways, kIfNotPresent, kNever };

// "always" | "if-not-present" | "never" (Kubernetes spellings Always/IfNotPresent/Never too).
Result<PullPolicy> ParsePullPolicy(std::string_view s);

struct StorePullOptions {
  std::string store_dir;  // "" = store::Store::DefaultRoot()
  PullPolicy policy = PullPolicy::kIfNotPresent;
  registry::RegistryOptions registry;
  std::function<void(std::string_view)> log;  // progress lines (optional)
  // Mirrors of other nodes (`store serve` base URLs) asked for uncompressed layers before the
  // registry (peer/peer_source.h); manifests and configs always come from the registry.
  std::vector<std::string> peers;
  // The first `near_peers` of `peers` are in this node's zone: PeerSource asks them first.
  size_t near_peers = 0;
};

struct StorePullResult {
  std::string pinned;  // "registry/repo@sha256:<manifest digest>"
  oci::Digest manifest;
  std::string rootfs;  // the tree's root directory
  bool network_used = false;
  bool already_present = false;
  uint64_t fetched_bytes = 0;
  uint64_t resumed_bytes = 0;
  uint64_t peer_bytes = 0;  // of fetched_bytes, verified bytes that came from peers
};

Result<StorePullResult> PullToStore(const std::string& ref, const StorePullOptions& options);

// The store mode of `modelcar pull`: parses `policy`, pulls with progress lines on stderr and a
// summary line (fetched / resumed bytes, or "no network"); returns the pinned ref.
// `require_digest` refuses refs without @sha256:.
Result<std::string> PullToStoreForCli(const std::string& ref, const std::string& store_dir,
                                      const std::string& policy,
                                      const registry::RegistryOptions& registry,
                                      bool require_digest,
                                      const std::vector<std::string>& peers = {});

// Looks a ref up in the store only (no network): a digest, or a ref the store has recorded.
// NotFound when the store does not know it.
Result<oci::Digest> ResolveInStore(store::Store& store, const std::string& ref);

}  // namespace modelcar

#endif  // MODELCAR_NODE_STORE_PULL_H_
