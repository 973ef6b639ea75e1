#include "store/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

namespace modelcar::store {

Result<FileLock> FileLock::Lock(const std::string& path, Mode mode, bool wait) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDWR | O_CREAT, 0644));
  int op = (mode == Mode::kShared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  while (::flock(fd.get(), op) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Unavailable(path + " is locked by another modelcar process");
    return ErrnoStatus(errno, "flock " + path);
  }
  FileLock lock;
  lock.fd_ = std::move(fd);
  return lock;
}

Result<FileLock> FileLock::Acquire(const std::string& path, Mode mode) {
  return Lock(path, mode, true);
}

Result<FileLock> FileLock::TryAcquire(const std::string& path, Mode mode) {
  return Lock(path, mode, false);
}

}  // namespace modelcar::store
