#include "modelcar/pull.h"

#include <filesystem>

#include "base/file.h"
#include "oci/layout.h"
#include "registry/image.h"
#include "registry/parallel.h"

namespace modelcar {

Result<SendResult> PullToLayout(const std::string& ref, const std::string& layout_spec,
                                const RemoteOptions& options) {
  ASSIGN_OR_RETURN(Remote src, OpenRemote(ref, options));
  std::string spec_text = layout_spec;
  ASSIGN_OR_RETURN(
      oci::LayoutSpec spec,
      oci::ParseLayoutSpec(spec_text, src.ref.tag().empty() ? "latest" : src.ref.tag()));
  registry::RegistrySource source(src.client, src.ref.repository());
  Result<CopyPlan> planned =
      PlanCopy(source, src.ref.Identifier(), /*whole_index=*/false, oci::HostPlatform());
  if (!planned.ok()) {  // name the image in errors about its content (e.g. an unknown media type)
    Status s = planned.status();
    return s.code() == Code::kInvalidArgument ? s.WithContext(src.ref.ToString()) : s;
  }
  CopyPlan plan = std::move(*planned);
  if (src.ref.has_digest() && plan.top.digest != src.ref.digest() && plan.children.empty()) {
    // An index was resolved to its platform manifest: fine. Anything else is checked by
    // GetManifest.
  }
  ASSIGN_OR_RETURN(std::unique_ptr<oci::LayoutSink> sink, oci::LayoutSink::Open(spec.dir));
  std::string blob_dir = sink->work_dir() + "/blobs/sha256";
  RETURN_IF_ERROR(MakeDirs(blob_dir));
  std::filesystem::path dir = std::filesystem::absolute(spec.dir).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  std::string ingest =
      (dir.parent_path() / ("." + dir.filename().string() + ".modelcar-pull")).string();
  RETURN_IF_ERROR(MakeDirs(ingest, 0700));

  TransferProgress progress(options.progress, "pull");
  std::vector<int> ids;
  for (const oci::Descriptor& d : plan.blobs) {
    auto title = d.annotations.find("org.opencontainers.image.title");
    ids.push_back(progress.Add(d.digest.ToString(), d.size,
                               title == d.annotations.end() ? "" : title->second));
  }
  Status s = registry::ParallelFor(plan.blobs.size(), options.jobs, [&](size_t i) -> Status {
    const oci::Descriptor& d = plan.blobs[i];
    ASSIGN_OR_RETURN(bool have, sink->HasBlob(d));
    if (have) {
      progress.Done(ids[i], "exists");
      return Status();
    }
    Status fs = registry::FetchBlobToFile(*src.client, src.ref.repository(), d,
                                          blob_dir + "/" + d.digest.hex(),
                                          ingest + "/" + d.digest.hex(), options.fetch,
                                          [&](int64_t delta) { progress.Bytes(ids[i], delta); });
    progress.Done(ids[i], fs.ok() ? "pulled" : "failed");
    return fs;
  });
  progress.Finish();
  RETURN_IF_ERROR(s);
  RETURN_IF_ERROR(sink->PutManifest(plan.top.bytes, plan.top.media_type, spec.tag));
  RETURN_IF_ERROR(sink->Finish());
  std::error_code ec;
  std::filesystem::remove_all(ingest, ec);
  return SendResult{plan.top.digest, src.ref.Pinned(plan.top.digest)};
}

}  // namespace modelcar
