#include "transfer/pull.h"

#include <sys/stat.h>

#include <filesystem>

#include "base/crashpoint.h"
#include "base/file.h"
#include "oci/layout.h"
#include "registry/image.h"
#include "registry/parallel.h"

namespace modelcar {
namespace {

// Size of the verified copy of `d` in the ingest directory, -1 when there is none.
int64_t VerifiedSize(const std::string& ingest, const oci::Descriptor& d) {
  struct stat st;
  std::string path = ingest + "/blobs/" + d.digest.hex();
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

}  // namespace

Result<SendResult> PullToLayout(const std::string& ref, const std::string& layout_spec,
                                const RemoteOptions& options) {
  ASSIGN_OR_RETURN(Remote src, OpenRemote(ref, options));
  std::string spec_text = layout_spec;
  ASSIGN_OR_RETURN(
      oci::LayoutSpec spec,
      oci::ParseLayoutSpec(spec_text, src.ref.tag().empty() ? "latest" : src.ref.tag()));
  // An index asked for by digest resolves to its platform manifest (plan.top); GetManifest has
  // verified every document against the digest it was fetched by.
  ASSIGN_OR_RETURN(CopyPlan plan, PlanRemoteCopy(src, /*whole_index=*/false));
  ASSIGN_OR_RETURN(std::unique_ptr<oci::LayoutSink> sink, oci::LayoutSink::Open(spec.dir));
  std::filesystem::path dir = std::filesystem::absolute(spec.dir).lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  std::string ingest =
      (dir.parent_path() / ("." + dir.filename().string() + ".modelcar-pull")).string();
  RETURN_IF_ERROR(MakeDirs(ingest + "/blobs", 0700));

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
    if (VerifiedSize(ingest, d) == d.size) {  // verified by an interrupted run
      progress.Bytes(ids[i], d.size);
      progress.Done(ids[i], "resumed");
      return Status();
    }
    Status fs = registry::FetchBlobToFile(*src.client, src.ref.repository(), d,
                                          ingest + "/blobs/" + d.digest.hex(),
                                          ingest + "/" + d.digest.hex(), options.fetch,
                                          [&](int64_t delta) { progress.Bytes(ids[i], delta); });
    progress.Done(ids[i], fs.ok() ? "pulled" : "failed");
    return fs;
  });
  progress.Finish();
  RETURN_IF_ERROR(s);
  CrashPoint("pull.before-finish");
  for (const oci::Descriptor& d : plan.blobs) {
    if (VerifiedSize(ingest, d) < 0) continue;  // the layout had it
    RETURN_IF_ERROR(sink->AdoptVerifiedBlob(d, ingest + "/blobs/" + d.digest.hex()));
  }
  RETURN_IF_ERROR(sink->PutManifest(plan.top.bytes, plan.top.media_type, spec.tag));
  RETURN_IF_ERROR(sink->Finish());
  std::error_code ec;
  std::filesystem::remove_all(ingest, ec);
  return SendResult{plan.top.digest, src.ref.Pinned(plan.top.digest)};
}

}  // namespace modelcar
