// Advisory file locks (flock) that let several modelcar processes share one store.
//
//   - a pull holds the image's lock exclusively while it downloads: a second pull of the same
//     image blocks, then finds the committed tree and shares it;
//   - mount holds it shared while it links the tree and writes its lease;
//   - gc takes it exclusively without blocking and skips images whose lock is busy.
// Locks are released by the destructor (or when the process dies, even by kill -9).
#ifndef MODELCAR_STORE_LOCK_H_
#define MODELCAR_STORE_LOCK_H_

#include <string>

#include "base/file.h"
#include "base/status.h"

namespace modelcar::store {

class FileLock {
 public:
  enum class Mode { kShared, kExclusive };
  FileLock() = default;

  // Creates `path` if needed and locks it, waiting for other holders.
  static Result<FileLock> Acquire(const std::string& path, Mode mode);
  // Like Acquire but fails with kUnavailable at once when another process holds it.
  static Result<FileLock> TryAcquire(const std::string& path, Mode mode);

  bool held() const { return fd_.valid(); }
  void Release() { fd_.Reset(); }

 private:
  static Result<FileLock> Lock(const std::string& path, Mode mode, bool wait);
  UniqueFd fd_;
};

}  // namespace modelcar::store

#endif  // MODELCAR_STORE_LOCK_H_
