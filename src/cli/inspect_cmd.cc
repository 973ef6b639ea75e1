// `modelcar inspect (REF | --layout DIR[:TAG])`: files, sizes, layers, digests and total size of
// an image in an OCI layout or a registry (registry layers are not downloaded: their files are not
// listed, per-file layers show their title).
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/registry_flags.h"
#include "image/inspect.h"
#include "oci/layout.h"
#include "registry/image.h"

namespace {

struct Flags {
  std::string ref;
  std::string layout;
  bool json = false;
  modelcar::RemoteFlags remote;
};

modelcar::Result<modelcar::Inspection> InspectRemote(Flags& f) {
  RETURN_IF_ERROR(f.remote.Finish());
  ASSIGN_OR_RETURN(modelcar::Remote r, modelcar::OpenRemote(f.ref, f.remote.options));
  modelcar::registry::RegistrySource source(r.client, r.ref.repository());
  return modelcar::InspectSource(source, r.ref.Identifier(), r.ref.ToString(), nullptr);
}

const modelcar::cli::CommandRegistration kInspect{
    "inspect", "Show the files, layers and digests of an image in a registry or an OCI layout",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("ref", f->ref, "Image reference in a registry (or use --layout)");
      app.add_option("--layout", f->layout, "OCI image layout DIR[:TAG] (TAG: latest)");
      app.add_flag("--json", f->json, "Print JSON");
      f->remote.Add(app, /*transfer=*/false);
      return [f]() -> modelcar::Status {
        if (f->ref.empty() == f->layout.empty()) {
          return modelcar::InvalidArgument("give exactly one of REF and --layout DIR[:TAG]");
        }
        modelcar::Result<modelcar::Inspection> in = modelcar::InvalidArgument("unset");
        if (!f->layout.empty()) {
          ASSIGN_OR_RETURN(modelcar::oci::LayoutSpec spec,
                           modelcar::oci::ParseLayoutSpec(f->layout));
          in = modelcar::InspectLayout(spec.dir, spec.tag);
        } else {
          in = InspectRemote(*f);
        }
        if (!in.ok()) return in.status();
        std::string out = f->json ? modelcar::InspectionJson(*in) : modelcar::FormatInspection(*in);
        std::fwrite(out.data(), 1, out.size(), stdout);
        return modelcar::Status();
      };
    }};

}  // namespace
