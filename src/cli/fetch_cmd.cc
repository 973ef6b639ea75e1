// `modelcar fetch REF DEST_DIR`: copy (or hard-link) an image's /models into a directory.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "modelcar/fetch.h"

namespace {

struct Flags {
  std::string ref, dest, store, pull = "if-not-present", subdir = "models";
  modelcar::registry::RegistryOptions reg;
  bool quiet = false;
};

const modelcar::cli::CommandRegistration kFetch{
    "fetch", "Pull an image into the node store and copy (or hard-link) its /models to a directory",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("ref", f->ref, "Image reference")->required();
      app.add_option("dest", f->dest, "Directory to fill (created if missing)")->required();
      app.add_option("--store", f->store, "Store directory");
      app.add_option("--pull", f->pull, "always | if-not-present | never");
      app.add_option("--subdir", f->subdir, "Directory of the image to copy (default models)");
      app.add_option("--authfile", f->reg.authfile, "Registry credentials file");
      app.add_option("--ca-file", f->reg.ca_file, "Extra CA bundle (PEM)");
      app.add_flag("--insecure", f->reg.insecure, "TLS without certificate verification");
      app.add_flag("--plain-http", f->reg.plain_http, "Use http:// for the registry");
      app.add_flag("-q,--quiet", f->quiet, "No progress on stderr");
      return [f]() -> modelcar::Status {
        modelcar::StorePullOptions o;
        ASSIGN_OR_RETURN(o.policy, modelcar::ParsePullPolicy(f->pull));
        o.store_dir = f->store;
        o.registry = f->reg;
        if (!f->quiet) {
          o.log = [](std::string_view l) {
            std::fprintf(stderr, "%.*s\n", static_cast<int>(l.size()), l.data());
          };
        }
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
