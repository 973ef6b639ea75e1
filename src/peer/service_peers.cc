#include "peer/service_peers.h"

#include <fmt/format.h>

#include "base/json.h"

namespace modelcar::peer {

void ServicePeers::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

PeerSnapshot ServicePeers::Refresh() {
  Result<SlicePeers> found = [&]() -> Result<SlicePeers> {
    ASSIGN_OR_RETURN(std::string body, list_());
    Result<SlicePeers> peers = PeersFromEndpointSlices(body, options_.selection);
    if (!peers.ok()) {
      return peers.status().WithContext("EndpointSlices of service " + options_.service);
    }
    return peers;
  }();
  const std::string prefix = "peers from service " + options_.service + ": ";
  if (!found.ok()) {
    std::string error = found.status().ToString();
    if (error != current_.error) {
      Log(prefix + error +
          (current_.known ? fmt::format("; keeping the last list ({} peers)", current_.peers.size())
                          : std::string("; pulls use the registry alone until a read works")));
    }
    current_.error = std::move(error);
    return current_;
  }
  const bool changed = !current_.known || found->peers != current_.peers ||
                       found->near != current_.near || found->zone != current_.zone ||
                       !current_.error.empty();
  current_.peers = std::move(found->peers);
  current_.near = found->near;
  current_.zone = found->zone;
  current_.known = true;
  current_.error.clear();
  if (changed) {
    std::string line = prefix + fmt::format("{} peers", current_.peers.size());
    line += current_.zone.empty() ? std::string(" (this node's zone unknown)")
                                  : fmt::format(" ({} in this node's zone {})", current_.near,
                                                PrintableAscii(current_.zone));
    for (size_t i = 0; i < current_.peers.size(); ++i) {
      line += (i == 0 ? ": " : ", ") + current_.peers[i];
    }
    Log(line);
  }
  return current_;
}

}  // namespace modelcar::peer
