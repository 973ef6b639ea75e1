// The node-warm cache agent (what a DaemonSet runs): keeps a list of refs present and verified in
// the node store.
//
// Config file (re-read when its mtime changes): JSON {"refs": ["reg/repo@sha256:...", ...],
// "verifyIntervalSeconds": 3600} or plain text with one ref per line ('#' starts a comment).
// Each reconcile (RunOnce):
//   - every listed ref is pulled if absent (IfNotPresent: no network when present) and pinned
//     with the lease "pin:cache-agent:<ref>", so gc never evicts it;
//   - trees are re-verified (re-hashed) when their last verify is older than the interval; a
//     corrupt tree is marked and pulled again on the next reconcile;
//   - refs removed from the config lose their pin (gc may then evict them);
//   - the status (per ref: present | pulling | failed, digest, bytes, last verify, error; the
//     peers in force) is written as JSON to the status file (atomically) and kept for /status and
//     /metrics.
// Peers: with `find_peers` (`--peer-service`: peer/service_peers.h) each reconcile asks it first
// and its answer is the peer list of that reconcile's pulls, so peers that come and go are
// followed; without it, `pull.peers` (`--peers`) stay fixed.
// Thread safety: RunOnce from one thread; StatusJson/Metrics from any thread.
#ifndef MODELCAR_NODE_CACHE_AGENT_H_
#define MODELCAR_NODE_CACHE_AGENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "node/store_pull.h"
#include "peer/service_peers.h"

namespace modelcar {

struct CacheAgentConfig {
  std::vector<std::string> refs;
  int64_t verify_interval_s = 3600;
};

// Parses the config text (JSON or one ref per line); errors name `path`.
Result<CacheAgentConfig> ParseCacheAgentConfig(std::string_view text, const std::string& path);

struct CacheAgentOptions {
  std::string config_path;
  std::string status_path;  // "" = no status file
  StorePullOptions pull;
  // Called before every reconcile when set: the peers of that reconcile's pulls (in place of
  // pull.peers and pull.near_peers).
  std::function<peer::PeerSnapshot()> find_peers;
};

struct RefStatus {
  std::string state = "pulling";  // present | pulling | failed
  std::string digest;
  uint64_t bytes = 0;
  int64_t last_verify = 0;
  std::string error;
  uint64_t fetched_bytes = 0;  // by its last pull that used the network
  uint64_t peer_bytes = 0;     // of fetched_bytes, from peers
};

class CacheAgent {
 public:
  explicit CacheAgent(CacheAgentOptions options) : options_(std::move(options)) {}

  // Reloads the config if it changed and reconciles. Per-ref failures are recorded in the
  // status, not returned; an unreadable config is returned (the previous one stays in force).
  Status RunOnce();

  std::string StatusJson() const;
  // Prometheus text format.
  std::string Metrics() const;
  uint64_t reconciles() const;

 private:
  Status Reconcile(const CacheAgentConfig& config, const StorePullOptions& pull);
  void Publish();

  CacheAgentOptions options_;
  int64_t config_mtime_ns_ = -1;
  CacheAgentConfig config_;
  mutable std::mutex mu_;
  std::map<std::string, RefStatus> status_;  // by ref
  uint64_t reconciles_ = 0;
  uint64_t pull_failures_ = 0;
  uint64_t fetched_bytes_ = 0, peer_bytes_ = 0;  // by every pull
  peer::PeerSnapshot peers_;                     // in force for the last reconcile
  uint64_t peer_read_failures_ = 0;
};

}  // namespace modelcar

#endif  // MODELCAR_NODE_CACHE_AGENT_H_
