// `modelcar push --layout DIR[:TAG] REF`: pushes an image from an OCI layout to a registry. The
// pinned reference (registry/repo@sha256:...) is the last line of stdout.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/registry_flags.h"
#include "transfer/push.h"

namespace {

struct Flags {
  modelcar::RemoteFlags remote;
  std::string layout;
  std::string ref;
};

const modelcar::cli::CommandRegistration kPush{
    "push", "Push an image from an OCI layout to a registry; prints REF@sha256:...",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("ref", f->ref, "Destination: [registry/]repo[:tag]")->required();
      app.add_option("--layout", f->layout, "Source OCI image layout DIR[:TAG] (TAG: latest)")
          ->required();
      f->remote.Add(app, /*transfer=*/true);
      return [f]() -> modelcar::Status {
        RETURN_IF_ERROR(f->remote.Finish());
        ASSIGN_OR_RETURN(modelcar::SendResult r,
                         modelcar::PushLayout(f->layout, f->ref, f->remote.options));
        std::printf("%s\n", r.pinned.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
