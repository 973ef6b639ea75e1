// `modelcar inspect --layout DIR[:TAG]`: what an image in an OCI layout holds.
//
// The manifest and config are verified against their digests; layers are listed from their tar
// headers only (file data is not read, so layer digests are not re-verified here).
#ifndef MODELCAR_MODELCAR_INSPECT_H_
#define MODELCAR_MODELCAR_INSPECT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "oci/descriptor.h"
#include "oci/manifest.h"
#include "tar/list.h"

namespace modelcar {

struct InspectedLayer {
  oci::Descriptor descriptor;
  bool listed = false;  // false for compressed or foreign layers (files unknown)
  std::vector<tar::ListedEntry> entries;
};

struct Inspection {
  std::string layout_dir;
  std::string tag;
  oci::Descriptor manifest;
  oci::Descriptor config_descriptor;
  oci::ImageConfig config;
  std::vector<InspectedLayer> layers;
  uint64_t total_bytes = 0;  // manifest + config + layers
};

Result<Inspection> InspectLayout(const std::string& dir, const std::string& tag);

// Human-readable report (ends with a newline).
std::string FormatInspection(const Inspection& in);
// JSON report: {"layout","tag","manifest":{digest,size,mediaType},"config":{...},
// "labels":{...},"layers":[{"digest","size","mediaType","title","files":[{"path","size","type",
// "mode","uid","gid"}]}],"totalSize"}.
std::string InspectionJson(const Inspection& in);

}  // namespace modelcar

#endif  // MODELCAR_MODELCAR_INSPECT_H_
