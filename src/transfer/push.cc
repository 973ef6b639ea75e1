#include "transfer/push.h"

#include "base/log.h"
#include "oci/layout.h"
#include "registry/image.h"
#include "registry/retry.h"

namespace modelcar {

Result<SendResult> PushLayout(const std::string& layout_spec, const std::string& ref,
                              const RemoteOptions& options) {
  ASSIGN_OR_RETURN(oci::LayoutSpec spec, oci::ParseLayoutSpec(layout_spec));
  ASSIGN_OR_RETURN(std::unique_ptr<oci::LayoutSource> source, oci::LayoutSource::Open(spec.dir));
  ASSIGN_OR_RETURN(Remote dst, OpenRemote(ref, options));
  ASSIGN_OR_RETURN(CopyPlan plan,
                   PlanCopy(*source, spec.tag, /*whole_index=*/true, oci::HostPlatform()));
  TransferProgress progress(options.progress, "push");
  oci::LayoutSource* src = source.get();
  auto result = SendPlan(
      plan, dst, [&](const oci::Descriptor& d) { return FileBlobOpener(src->BlobPath(d.digest)); },
      "", options, progress);
  progress.Finish();
  return result;
}

Status UseRegistryBase(BuildOptions* build, const RemoteOptions& options,
                       std::unique_ptr<oci::ImageSource>* holder) {
  std::string base = build->base;
  if (base == "busybox" || base == "none" || base == "source" || base.starts_with("layout:")) {
    return Status();
  }
  if (base.starts_with("docker://")) base = base.substr(9);
  RemoteOptions o = options;
  ASSIGN_OR_RETURN(Remote r, OpenRemote(base, o));
  *holder = std::make_unique<registry::RegistrySource>(r.client, r.ref.repository());
  build->base = "source";
  build->base_source = holder->get();
  build->base_ref = r.ref.Identifier();
  return Status();
}

Result<SendResult> BuildAndPush(BuildOptions build, const std::string& ref,
                                const RemoteOptions& options, BuildProgress* progress) {
  ASSIGN_OR_RETURN(Remote dst, OpenRemote(ref, options));
  build.tag = dst.ref.tag().empty() && !dst.ref.has_digest() ? "latest" : dst.ref.tag();
  std::unique_ptr<oci::ImageSource> base_holder;
  RETURN_IF_ERROR(UseRegistryBase(&build, options, &base_holder));
  // A streamed blob cannot be sent again from where its upload broke (a reset, a stall), so a
  // build whose upload failed that way (Unavailable) runs again whole, within the registry retry
  // policy's attempts: the build is reproducible, so it sends the same bytes and digests.
  BuildResult r;
  Status last;
  RETURN_IF_ERROR(registry::WithRetries(options.registry.retry, [&](auto*) -> Status {
    if (!last.ok()) LogWarning("build --push: {}; building and sending again", last.message());
    registry::RegistrySink sink(dst.client, dst.ref.repository());
    auto built = BuildImage(build, sink, progress);
    last = built.ok() ? sink.Finish() : built.status();
    if (built.ok()) r = std::move(*built);
    return last;
  }));
  if (dst.ref.has_digest() && dst.ref.digest() != r.manifest.digest) {
    return FailedPrecondition("pushed " + r.manifest.digest.ToString() + " but " + ref +
                              " names another digest");
  }
  return SendResult{r.manifest.digest, dst.ref.Pinned(r.manifest.digest)};
}

}  // namespace modelcar
