// `modelcar inspect --layout DIR[:TAG]`: files, sizes, layers, digests and total size of an image.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "modelcar/inspect.h"
#include "oci/layout.h"

namespace {

struct Flags {
  std::string layout;
  bool json = false;
};

const modelcar::cli::CommandRegistration kInspect{
    "inspect", "Show the files, layers and digests of an image in an OCI layout",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("--layout", f->layout, "OCI image layout DIR[:TAG] (TAG: latest)")->required();
      app.add_flag("--json", f->json, "Print JSON");
      return [f]() -> modelcar::Status {
        ASSIGN_OR_RETURN(modelcar::oci::LayoutSpec spec, modelcar::oci::ParseLayoutSpec(f->layout));
        ASSIGN_OR_RETURN(modelcar::Inspection in, modelcar::InspectLayout(spec.dir, spec.tag));
        std::string out = f->json ? modelcar::InspectionJson(in) : modelcar::FormatInspection(in);
        std::fwrite(out.data(), 1, out.size(), stdout);
        return modelcar::Status();
      };
    }};

}  // namespace
