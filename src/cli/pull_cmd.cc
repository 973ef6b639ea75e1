// `modelcar pull REF --layout DIR[:TAG]`: fetches an image into an OCI layout (verified,
// resumable). The pinned reference is the last line of stdout. (A node-store mode is a separate
// destination flag next to --layout.)
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/registry_flags.h"
#include "cli/store_pull_flags.h"
#include "node/store_pull.h"
#include "transfer/pull.h"

namespace {

struct Flags {
  modelcar::RemoteFlags remote;
  std::string layout;
  std::string ref;
  std::string store;                      // node store mode (the default without --layout)
  std::string policy = "if-not-present";  // store mode: always | if-not-present | never
  std::vector<std::string> peers;         // store mode: other nodes' mirrors
};

const modelcar::cli::CommandRegistration kPull{
    "pull", "Pull an image from a registry into an OCI layout; prints REF@sha256:...",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("ref", f->ref, "Source: [registry/]repo[:tag|@sha256:...]")->required();
      app.add_option("--layout", f->layout, "Destination OCI image layout DIR[:TAG]");
      app.add_option("--store", f->store,
                     "Destination node store DIR (default without --layout: $MODELCAR_STORE, "
                     "/var/lib/modelcar as root, ~/.cache/modelcar)");
      app.add_option("--pull", f->policy, "Store mode: always | if-not-present | never");
      modelcar::cli::AddPeersFlag(app, f->peers);
      f->remote.Add(app, /*transfer=*/true);
      return [f]() -> modelcar::Status {
        RETURN_IF_ERROR(f->remote.Finish());
        if (!f->layout.empty() && !f->store.empty()) {
          return modelcar::InvalidArgument("give --layout or --store, not both");
        }
        if (!f->layout.empty() && !f->peers.empty()) {
          return modelcar::InvalidArgument("--peers is for pulls into the node store");
        }
        if (f->layout.empty()) {  // node store mode (node/store_pull.h)
          ASSIGN_OR_RETURN(std::vector<std::string> peers, modelcar::peer::ParsePeers(f->peers));
          ASSIGN_OR_RETURN(
              std::string pinned,
              modelcar::PullToStoreForCli(f->ref, f->store, f->policy, f->remote.options.registry,
                                          f->remote.options.require_digest, peers));
          std::printf("%s\n", pinned.c_str());
          return modelcar::Status();
        }
        ASSIGN_OR_RETURN(modelcar::SendResult r,
                         modelcar::PullToLayout(f->ref, f->layout, f->remote.options));
        std::printf("%s\n", r.pinned.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
