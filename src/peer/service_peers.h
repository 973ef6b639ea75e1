// Peers that come and go: the cache agent's peers read again from the EndpointSlices of a Service
// (`cache-agent --peer-service`) before each reconcile, with what to do when the read fails.
//
// Refresh() calls `list` (kube_api.h's ListEndpointSlices in the agent; a function here so the
// tests need no API server) and turns the answer into peers (endpoint_slices.h). When that works
// the new list replaces the old one. When it fails (API down, token refused, RBAC missing, a slice
// that does not parse), the last good list stays in force, and before any good read there is none:
// the pulls go to the registry alone. A down API never blocks a pull.
// Logging: one line when the list changes (count, how many in this node's zone, the URLs) and one
// line when the error changes (a new error, or the first read that works again), never one per
// reconcile while nothing changes.
// Thread safety: Refresh() from one thread at a time; the snapshots it returns are values.
#ifndef MODELCAR_PEER_SERVICE_PEERS_H_
#define MODELCAR_PEER_SERVICE_PEERS_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "peer/endpoint_slices.h"

namespace modelcar::peer {

struct PeerSnapshot {
  std::vector<std::string> peers;  // in force: this node's zone first
  size_t near = 0;                 // the first `near` of `peers` share this node's zone
  std::string zone;                // this node's zone ("" when unknown)
  bool known = false;              // some read has worked (else `peers` is empty)
  std::string error;               // why the last read failed; "" when it worked
};

struct ServicePeersOptions {
  std::string service;                        // for messages: "[NS/]NAME" as the user wrote it
  SliceSelection selection;                   // this node and the port name
  std::function<void(std::string_view)> log;  // optional
};

class ServicePeers {
 public:
  // The EndpointSliceList JSON of the Service, or why it could not be read.
  using ListFn = std::function<Result<std::string>()>;

  ServicePeers(ServicePeersOptions options, ListFn list)
      : options_(std::move(options)), list_(std::move(list)) {}

  // Reads the Service's endpoints again; returns the peers now in force.
  PeerSnapshot Refresh();

 private:
  void Log(const std::string& line) const;

  ServicePeersOptions options_;
  ListFn list_;
  PeerSnapshot current_;
};

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_SERVICE_PEERS_H_
