// `modelcar copy SRC_REF DST_REF`: registry to registry (blobs mounted when both are repositories
// of the same registry). Prints the destination's pinned reference.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/registry_flags.h"
#include "transfer/copy.h"

namespace {

struct Flags {
  modelcar::RemoteFlags remote;
  std::string src, dst;
};

const modelcar::cli::CommandRegistration kCopy{
    "copy", "Copy an image between registries; prints DST@sha256:...",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("src", f->src, "Source reference")->required();
      app.add_option("dst", f->dst, "Destination reference")->required();
      f->remote.Add(app, /*transfer=*/true);
      return [f]() -> modelcar::Status {
        RETURN_IF_ERROR(f->remote.Finish());
        ASSIGN_OR_RETURN(modelcar::SendResult r,
                         modelcar::CopyImage(f->src, f->dst, f->remote.options));
        std::printf("%s\n", r.pinned.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
