#include "serve/model_source.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace modelcar::serve {

Result<std::string> PinnedImageDigest(std::string_view reference) {
  std::string_view r = reference;
  if (r.starts_with("oci://")) r.remove_prefix(6);
  size_t at = r.rfind('@');
  std::string_view d = at == std::string_view::npos ? std::string_view() : r.substr(at + 1);
  bool ok = at != 0 && d.size() == 7 + 64 && d.starts_with("sha256:") &&
            d.substr(7).find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (!ok) {
    return InvalidArgument("\"" + std::string(reference) +
                           "\" is not pinned to a digest (expected REGISTRY/REPO@sha256:<64 hex>)");
  }
  return std::string(d);
}

PathState ProbeModelDir(const std::string& dir, int* errno_value) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0)
    return S_ISDIR(st.st_mode) ? PathState::kDirectory : PathState::kNotDirectory;
  int err = errno;
  if (errno_value) *errno_value = err;
  struct stat lst;
  bool is_link = ::lstat(dir.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode);
  if (is_link && (err == EACCES || err == EPERM)) return PathState::kUnreachable;
  return PathState::kAbsent;
}

Status WaitForModelDir(const std::string& dir, std::chrono::milliseconds timeout,
                       const std::atomic<bool>& cancel,
                       const std::function<void(std::string_view)>& log) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  bool waiting = false;
  for (;;) {
    int err = 0;
    switch (ProbeModelDir(dir, &err)) {
      case PathState::kDirectory:
        if (waiting) {
          char secs[32];
          std::snprintf(secs, sizeof secs, "%.1f",
                        std::chrono::duration<double>(Clock::now() - start).count());
          log("model directory " + dir + " appeared after " + secs + " s");
        }
        return Status();
      case PathState::kNotDirectory:
        return InvalidArgument("model path " + dir + " is not a directory");
      case PathState::kUnreachable: {
        char target[4096];
        ssize_t n = ::readlink(dir.c_str(), target, sizeof target - 1);
        std::string to = n > 0 ? std::string(target, static_cast<size_t>(n)) : "?";
        return FailedPrecondition(
            fmt::format("model directory {} is a link to {} that this container cannot follow ({}, "
                        "running as uid {}): reading another container's /proc/<pid>/root needs "
                        "the same uid or CAP_SYS_PTRACE (KServe issue #4995). Fix: run this "
                        "container with the modelcar sidecar's uid (uidModelcar in the webhook "
                        "config sets both), or add SYS_PTRACE to its securityContext.capabilities",
                        dir, to, std::strerror(err), ::getuid()));
      }
      case PathState::kAbsent:
        break;
    }
    const auto waited = Clock::now() - start;
    if (waited >= timeout) {
      return DeadlineExceeded("model directory " + dir + " does not exist" +
                              (timeout.count() > 0 ? fmt::format(" (waited {} s for it to appear)",
                                                                 timeout.count() / 1000)
                                                   : std::string()));
    }
    if (!waiting) {
      log(
          fmt::format("waiting up to {} s for the model directory {} to appear (the modelcar "
                      "sidecar links it; /health answers 503 meanwhile)",
                      timeout.count() / 1000, dir));
      waiting = true;
    }
    if (cancel.load()) return Cancelled("stopped while waiting for " + dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace modelcar::serve
