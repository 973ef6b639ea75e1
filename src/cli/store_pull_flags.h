// Flags shared by the commands that pull into the node store (mount, fetch, serve oci://,
// store pull, cache-agent): the pull policy, the registry access flags and --peers. Included only
// by src/cli/*_cmd.cc (it pulls in CLI11).
#ifndef MODELCAR_CLI_STORE_PULL_FLAGS_H_
#define MODELCAR_CLI_STORE_PULL_FLAGS_H_

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/registry_flags.h"
#include "node/store_pull.h"
#include "peer/peer_source.h"

namespace modelcar::cli {

// --peers URL[,URL...]: other nodes' mirrors asked for layers before the registry.
inline void AddPeersFlag(CLI::App& app, std::vector<std::string>& peers) {
  app.add_option("--peers", peers,
                 "Mirrors of other nodes (http://HOST:PORT of `store serve`) asked for layers "
                 "before the registry")
      ->delimiter(',');
}

struct StorePullFlags {
  std::string pull = "if-not-present";
  registry::RegistryOptions registry;
  std::vector<std::string> peers;

  // Adds --pull and the registry access flags (AddRegistryFlags) to `app`; --registry-identity
  // starts at `identity`.
  void Add(CLI::App& app, const std::string& pull_help = "always | if-not-present | never",
           registry::NodeIdentity identity = registry::NodeIdentity::kNone) {
    app.add_option("--pull", pull, pull_help);
    registry.identity = identity;
    AddRegistryFlags(app, registry);
    AddPeersFlag(app, peers);
  }

  // Options for pulling into `store_dir` ("" = the default store); progress lines go to stderr,
  // each prefixed by `log_prefix`, unless `quiet`. Fails on an unknown --pull policy.
  Result<StorePullOptions> Options(const std::string& store_dir, bool quiet = false,
                                   std::string log_prefix = "") const {
    StorePullOptions o;
    ASSIGN_OR_RETURN(o.policy, ParsePullPolicy(pull));
    RETURN_IF_ERROR(CheckRegistryFlags(registry));
    ASSIGN_OR_RETURN(o.peers, peer::ParsePeers(peers));
    o.store_dir = store_dir;
    o.registry = registry;
    if (!quiet) {
      o.log = [log_prefix](std::string_view l) {
        std::fprintf(stderr, "%s%.*s\n", log_prefix.c_str(), static_cast<int>(l.size()), l.data());
      };
    }
    return o;
  }
};

}  // namespace modelcar::cli

#endif  // MODELCAR_CLI_STORE_PULL_FLAGS_H_
