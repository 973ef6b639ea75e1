// `modelcar inspect`: what an image in an OCI layout or a registry holds.
//
// The manifest and config are verified against their digests. Layers of a layout are listed from
// their tar headers only (file data is not read, so layer digests are not re-verified here); layers
// in a registry are not downloaded, so their files are not listed (each per-file layer still shows
// its file through its title annotation).
#ifndef MODELCAR_IMAGE_INSPECT_H_
#define MODELCAR_IMAGE_INSPECT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "oci/blob_sink.h"
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
  std::string image;       // "DIR:TAG" for a layout, the reference for a registry
  std::string layout_dir;  // empty for a registry image
  std::string tag;
  oci::Descriptor manifest;
  oci::Descriptor config_descriptor;
  oci::ImageConfig config;
  std::vector<InspectedLayer> layers;
  uint64_t total_bytes = 0;  // manifest + config + layers
};

Result<Inspection> InspectLayout(const std::string& dir, const std::string& tag);

// The image `tag_or_digest` of `source` (an index resolves to the host platform's manifest).
// `list_layer`, when set, lists an uncompressed layer's entries; layers it is not called for (or
// all, when it is empty) are reported with listed = false. `image` names the image in reports.
using LayerLister = std::function<Result<std::vector<tar::ListedEntry>>(const oci::Descriptor&)>;
Result<Inspection> InspectSource(oci::ImageSource& source, std::string_view tag_or_digest,
                                 std::string image, const LayerLister& list_layer);

// Human-readable report (ends with a newline).
std::string FormatInspection(const Inspection& in);
// JSON report: {"image","layout","tag","manifest":{digest,size,mediaType},"config":{...},
// "labels":{...},"layers":[{"digest","size","mediaType","title","files":[{"path","size","type",
// "mode","uid","gid"}]}],"totalSize"}.
std::string InspectionJson(const Inspection& in);

}  // namespace modelcar

#endif  // MODELCAR_IMAGE_INSPECT_H_
