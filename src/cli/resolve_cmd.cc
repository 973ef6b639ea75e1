// `modelcar resolve REF`: prints REF pinned to the manifest digest it names now
// (registry/repo@sha256:...).
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/registry_flags.h"

namespace {

struct Flags {
  modelcar::RemoteFlags remote;
  std::string ref;
};

const modelcar::cli::CommandRegistration kResolve{
    "resolve", "Print REF pinned to its current digest (registry/repo@sha256:...)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("ref", f->ref, "Image reference")->required();
      f->remote.Add(app, /*transfer=*/false);
      return [f]() -> modelcar::Status {
        RETURN_IF_ERROR(f->remote.Finish());
        ASSIGN_OR_RETURN(std::string pinned, modelcar::ResolveReference(f->ref, f->remote.options));
        std::printf("%s\n", pinned.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
