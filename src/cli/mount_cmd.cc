// `modelcar mount REF DEST`: pull REF into the node store if needed, point DEST at its /models.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "modelcar/mount.h"

namespace {

struct Flags {
  std::string ref, dest, store, pull = "if-not-present", subdir = "models";
  modelcar::registry::RegistryOptions reg;
  bool quiet = false;
};

const modelcar::cli::CommandRegistration kMount{
    "mount", "Pull an image into the node store if needed and symlink DEST to its /models",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("ref", f->ref, "Image reference (tag or @sha256: digest)")->required();
      app.add_option("dest", f->dest, "Link to create or replace atomically (ln -sf)")->required();
      app.add_option("--store", f->store,
                     "Store directory (default $MODELCAR_STORE, "
                     "/var/lib/modelcar as root, ~/.cache/modelcar)");
      app.add_option("--pull", f->pull, "always | if-not-present | never");
      app.add_option("--subdir", f->subdir, "Directory of the image to link (default models)");
      app.add_option("--authfile", f->reg.authfile, "Registry credentials file");
      app.add_option("--ca-file", f->reg.ca_file, "Extra CA bundle (PEM)");
      app.add_flag("--insecure", f->reg.insecure, "TLS without certificate verification");
      app.add_flag("--plain-http", f->reg.plain_http, "Use http:// for the registry");
      app.add_flag("-q,--quiet", f->quiet, "No progress on stderr");
      return [f]() -> modelcar::Status {
        modelcar::MountOptions o;
        ASSIGN_OR_RETURN(o.pull.policy, modelcar::ParsePullPolicy(f->pull));
        o.pull.store_dir = f->store;
        o.pull.registry = f->reg;
        o.subdir = f->subdir;
        if (!f->quiet) {
          o.pull.log = [](std::string_view l) {
            std::fprintf(stderr, "%.*s\n", static_cast<int>(l.size()), l.data());
          };
        }
        ASSIGN_OR_RETURN(modelcar::MountResult r, modelcar::MountImage(f->ref, f->dest, o));
        std::printf("%s\n", r.target.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
