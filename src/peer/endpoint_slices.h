// The peers of a node in a cluster, from the EndpointSlices of the agents' headless Service (the
// answer of GET /apis/discovery.k8s.io/v1/namespaces/NS/endpointslices?labelSelector=
// kubernetes.io/service-name=NAME, an EndpointSliceList). Pure: no I/O.
//
// Which endpoints are peers:
//   - an endpoint whose conditions.ready is not false (true, null or absent: Kubernetes reads a
//     missing ready as ready) and whose conditions.terminating is not true (a Service with
//     publishNotReadyAddresses keeps terminating pods ready);
//   - not this node's own: nodeName == SliceSelection::node_name (from the downward API's
//     spec.nodeName) is left out, ready or not, and gives this node's zone;
//   - its first address (Kubernetes says the addresses of an endpoint are fungible and consumers
//     may use the first), in a slice whose addressType is IPv4 or IPv6; FQDN slices (only made by
//     hand, for Services without selectors) are skipped. The URL is http://ADDR:PORT, an IPv6
//     address in brackets, written canonically (inet_ntop);
//   - PORT is the slice's port named SliceSelection::port_name; with no name, the slice's only
//     port, else its port named "mirror". Slices without a usable endpoint need no port (the
//     placeholder slice of a Service without pods has none).
// One peer per pod: endpoints with the same targetRef.uid (a pod listed in two slices while the
// controller updates them, or once per address family) give one URL, the first in the order
// below; endpoints without a targetRef are told apart by URL.
// Order: peers in this node's zone first (`near` of them), then the others; within each group
// ascending by address (IPv4 before IPv6, then the address bytes, then the port). Without a
// zone for this node (no own endpoint, or no zone on it) every peer is in the second group.
//
// Errors are InvalidArgument naming the field, e.g. "items[1].endpoints[0].conditions.ready:
// expected a boolean": JSON that does not parse (or exceeds base/json.h's limits), a wrong type,
// an address that is not of its slice's type, no port to use, a port out of 1..65535 or not TCP.
#ifndef MODELCAR_PEER_ENDPOINT_SLICES_H_
#define MODELCAR_PEER_ENDPOINT_SLICES_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace modelcar::peer {

struct SliceSelection {
  std::string node_name;  // this node ("" = none of the endpoints is this node's)
  std::string port_name;  // "" = the only port, else the one named "mirror"
};

struct SlicePeers {
  std::vector<std::string> peers;  // http://ADDR:PORT, this node's zone first
  size_t near = 0;                 // how many of `peers` (from the front) share this node's zone
  std::string zone;                // this node's zone, "" when unknown
};

Result<SlicePeers> PeersFromEndpointSlices(std::string_view list_json,
                                           const SliceSelection& selection);

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_ENDPOINT_SLICES_H_
