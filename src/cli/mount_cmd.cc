// `modelcar mount REF DEST`: pull REF into the node store if needed, point DEST at its /models.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/store_pull_flags.h"
#include "node/mount.h"

namespace {

struct Flags {
  std::string ref, dest, store, subdir = "models";
  modelcar::cli::StorePullFlags pull;
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
      app.add_option("--subdir", f->subdir, "Directory of the image to link (default models)");
      f->pull.Add(app);
      app.add_flag("-q,--quiet", f->quiet, "No progress on stderr");
      return [f]() -> modelcar::Status {
        modelcar::MountOptions o;
        ASSIGN_OR_RETURN(o.pull, f->pull.Options(f->store, f->quiet));
        o.subdir = f->subdir;
        ASSIGN_OR_RETURN(modelcar::MountResult r, modelcar::MountImage(f->ref, f->dest, o));
        std::printf("%s\n", r.target.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
