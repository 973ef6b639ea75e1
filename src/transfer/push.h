// `modelcar push --layout DIR[:TAG] REF` and `modelcar build MODEL_DIR --push REF`.
#ifndef MODELCAR_TRANSFER_PUSH_H_
#define MODELCAR_TRANSFER_PUSH_H_

#include <string>

#include "base/status.h"
#include "image/build.h"
#include "transfer/copy.h"
#include "transfer/resolve.h"

namespace modelcar {

// Pushes the image tagged (or with the digest) `layout_spec`'s tag in the OCI layout to `ref`.
// An index is pushed with all its image manifests. Blob bytes are read from the layout's files
// (retries re-read from the failed offset); nothing is copied locally.
Result<SendResult> PushLayout(const std::string& layout_spec, const std::string& ref,
                              const RemoteOptions& options);

// When build->base names a registry image ("REF" or "docker://REF"; anything but busybox, none
// and layout:...), opens it as the build's base: sets base = "source", base_source (kept alive
// by *holder) and base_ref. Other bases are left alone.
Status UseRegistryBase(BuildOptions* build, const RemoteOptions& options,
                       std::unique_ptr<oci::ImageSource>* holder);

// Builds `build` straight into the registry (no local copy of the image): each layer is streamed
// as one upload while it is produced. A registry --base is handled (UseRegistryBase). `build.tag`
// is replaced by the reference's tag (pushed by digest when the reference has only a digest, which
// must then match). An upload broken by a transport error runs the whole build again (within
// options.registry.retry), since a stream cannot be resumed.
Result<SendResult> BuildAndPush(BuildOptions build, const std::string& ref,
                                const RemoteOptions& options, BuildProgress* progress = nullptr);

}  // namespace modelcar

#endif  // MODELCAR_TRANSFER_PUSH_H_
