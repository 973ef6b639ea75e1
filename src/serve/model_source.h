// Where the served model directory comes from in a pod: the directory the modelcar sidecar links
// (waited for), and the image the pod was admitted with (env MODELCAR_MODEL_IMAGE, set by the
// webhook on the serving containers).
#ifndef MODELCAR_SERVE_MODEL_SOURCE_H_
#define MODELCAR_SERVE_MODEL_SOURCE_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::serve {

// The env variable the webhook sets to the pinned reference of the image mounted at /mnt/models.
inline constexpr char kModelImageEnv[] = "MODELCAR_MODEL_IMAGE";

// "sha256:<64 hex>" of a digest-pinned reference ("registry/repo@sha256:..."; an oci:// prefix is
// allowed). InvalidArgument naming the reference when it carries no well-formed sha256 digest.
Result<std::string> PinnedImageDigest(std::string_view reference);

// What a path is right now, for WaitForModelDir: a directory; absent (nothing there, or a link
// whose target does not exist yet); or unreachable (a link that exists but cannot be followed:
// EACCES/EPERM on /proc/<pid>/root, KServe issue #4995). errno_value is the stat error.
enum class PathState { kDirectory, kAbsent, kNotDirectory, kUnreachable };
PathState ProbeModelDir(const std::string& dir, int* errno_value = nullptr);

// Waits until `dir` is a directory (following links), polling every 100 ms, up to `timeout`
// (0: no wait). Logs once when it starts waiting and once when the directory appears. Returns
// at once: FailedPrecondition when `dir` is a link that cannot be followed (message: the uid/
// CAP_SYS_PTRACE fix), InvalidArgument when it exists and is not a directory, Cancelled when
// `cancel` becomes true; DeadlineExceeded naming the directory and the timeout.
Status WaitForModelDir(const std::string& dir, std::chrono::milliseconds timeout,
                       const std::atomic<bool>& cancel,
                       const std::function<void(std::string_view)>& log);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_MODEL_SOURCE_H_
