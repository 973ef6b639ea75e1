#include "transfer/push.h"

#include "oci/layout.h"
#include "registry/image.h"

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
  registry::RegistrySink sink(dst.client, dst.ref.repository());
  ASSIGN_OR_RETURN(BuildResult r, BuildImage(build, sink, progress));
  RETURN_IF_ERROR(sink.Finish());
  if (dst.ref.has_digest() && dst.ref.digest() != r.manifest.digest) {
    return FailedPrecondition("pushed " + r.manifest.digest.ToString() + " but " + ref +
                              " names another digest");
  }
  return SendResult{r.manifest.digest, dst.ref.Pinned(r.manifest.digest)};
}

}  // namespace modelcar
