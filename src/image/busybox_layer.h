// The default base layer of a modelcar image: Debian's static busybox as /bin/busybox plus applet
// symlinks, enough for KServe's modelcar sidecar (`sh -c "ln -sf /proc/$$/root/models /mnt/models
// && sleep infinity"`) and its init check (`[ -d /models ] && [ "$(ls -A /models)" ]`).
#ifndef MODELCAR_IMAGE_BUSYBOX_LAYER_H_
#define MODELCAR_IMAGE_BUSYBOX_LAYER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "tar/writer.h"

namespace modelcar {

// Applets linked to /bin/busybox (sorted).
const std::vector<std::string>& BusyboxApplets();

// Writes the base layer's tar stream (bin/, bin/busybox read from `busybox_path`, bin/<applet>
// symlinks, tmp/) into `out`, all owned by 0:0 with `mtime`. The archive is finished (trailer
// written). NotFound naming the path (and the Debian package) if busybox is missing.
Status WriteBusyboxLayer(const std::string& busybox_path, int64_t mtime, tar::Writer& out);

}  // namespace modelcar

#endif  // MODELCAR_IMAGE_BUSYBOX_LAYER_H_
