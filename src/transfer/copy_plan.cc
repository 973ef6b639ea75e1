#include "transfer/copy_plan.h"

#include <set>

#include "oci/manifest.h"
#include "oci/media_types.h"

namespace modelcar {
namespace {

Status AddBlobs(const oci::FetchedManifest& fm, CopyPlan* plan, std::set<oci::Digest>* seen) {
  ASSIGN_OR_RETURN(oci::Manifest m, oci::ParseManifest(fm.bytes, fm.media_type));
  auto add = [&](const oci::Descriptor& d) {
    if (seen->insert(d.digest).second) {
      plan->blobs.push_back(d);
      plan->total_bytes += static_cast<uint64_t>(d.size);
    }
  };
  add(m.config);
  for (const oci::Descriptor& l : m.layers) add(l);
  return Status();
}

}  // namespace

Result<CopyPlan> PlanCopy(oci::ImageSource& source, std::string_view tag_or_digest,
                          bool whole_index, const oci::Platform& platform) {
  CopyPlan plan;
  std::set<oci::Digest> seen;
  ASSIGN_OR_RETURN(plan.top, source.GetManifest(tag_or_digest));
  if (plan.top.media_type.empty()) {
    ASSIGN_OR_RETURN(plan.top.media_type, oci::SniffMediaType(plan.top.bytes));
    if (plan.top.media_type.empty()) plan.top.media_type = std::string(oci::kOciManifest);
  }
  const std::string& type = plan.top.media_type;
  if (oci::IsIndexType(type)) {
    if (!whole_index) {
      ASSIGN_OR_RETURN(oci::ResolvedImage r, oci::ResolveImage(source, tag_or_digest, platform));
      plan.top = std::move(r.manifest);
      if (plan.top.media_type.empty()) plan.top.media_type = r.descriptor.media_type;
      RETURN_IF_ERROR(AddBlobs(plan.top, &plan, &seen));
      return plan;
    }
    ASSIGN_OR_RETURN(oci::Index index, oci::ParseIndex(plan.top.bytes, type));
    for (const oci::Descriptor& d : index.manifests) {
      if (!oci::IsManifestType(d.media_type)) {
        return InvalidArgument("index " + std::string(tag_or_digest) + " lists " +
                               d.digest.ToString() + " of unsupported media type \"" +
                               d.media_type + "\"");
      }
      ASSIGN_OR_RETURN(oci::FetchedManifest child, source.GetManifest(d.digest.ToString()));
      if (child.digest != d.digest) {
        return DataLoss("manifest " + d.digest.ToString() + " has the wrong content");
      }
      if (child.media_type.empty() || !oci::IsManifestType(child.media_type)) {
        child.media_type = d.media_type;
      }
      RETURN_IF_ERROR(AddBlobs(child, &plan, &seen));
      plan.children.push_back(std::move(child));
    }
    return plan;
  }
  if (!oci::IsManifestType(type)) {
    return InvalidArgument("\"" + std::string(tag_or_digest) + "\" has media type \"" + type +
                           "\", which is not an image manifest or index");
  }
  RETURN_IF_ERROR(AddBlobs(plan.top, &plan, &seen));
  return plan;
}

}  // namespace modelcar
