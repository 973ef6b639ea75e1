// `modelcar fetch REF DEST_DIR`: copy (or hard-link) an image's /models into a directory.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/store_pull_flags.h"
#include "node/fetch.h"

namespace {

struct Flags {
  std::string ref, dest, store, subdir = "models";
  modelcar::cli::StorePullFlags pull;
  bool quiet = false;
};

const modelcar::cli::CommandRegistration kFetch{
    "fetch", "Pull an image into the node store and copy (or hard-link) its /models to a directory",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("ref", f->ref, "Image reference")->required();
      app.add_option("dest", f->dest, "Directory to fill (created if missing)")->required();
      app.add_option("--store", f->store, "Store directory");
      app.add_option("--subdir", f->subdir, "Directory of the image to copy (default models)");
      f->pull.Add(app);
      app.add_flag("-q,--quiet", f->quiet, "No progress on stderr");
      return [f]() -> modelcar::Status {
        ASSIGN_OR_RETURN(modelcar::StorePullOptions o, f->pull.Options(f->store, f->quiet));
        ASSIGN_OR_RETURN(modelcar::FetchResult r,
                         modelcar::FetchModels(f->ref, f->dest, o, f->subdir));
        std::fprintf(stderr, "fetched %llu files (%llu hard-linked), %llu bytes from %s\n",
                     static_cast<unsigned long long>(r.files),
                     static_cast<unsigned long long>(r.linked),
                     static_cast<unsigned long long>(r.bytes), r.pull.pinned.c_str());
        std::printf("%s\n", f->dest.c_str());
        return modelcar::Status();
      };
    }};

}  // namespace
