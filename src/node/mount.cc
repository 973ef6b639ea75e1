#include "node/mount.h"

#include <fmt/format.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "base/crashpoint.h"
#include "base/file.h"
#include "store/lock.h"

namespace modelcar {
namespace {

std::string Absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return p;
  return std::string(cwd) + "/" + p;
}

std::string BaseName(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

}  // namespace

Result<std::string> AtomicSymlink(const std::string& target, const std::string& link_in) {
  std::string link = Absolute(link_in);
  while (link.size() > 1 && link.back() == '/') link.pop_back();
  struct stat st;
  if (::lstat(link.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) link += "/" + BaseName(target);
  RETURN_IF_ERROR(MakeDirs(DirName(link)));
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = fmt::format("{}.tmp-{}", link, rng() % 1000000000);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return ErrnoStatus(errno, "symlink " + tmp);
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
      return FailedPrecondition(link + " is a directory; remove it or name another path");
    }
    return ErrnoStatus(err, "rename " + tmp + " -> " + link);
  }
  (void)FsyncDir(DirName(link));
  return link;
}

namespace {

// One attempt: Unavailable when gc removed the tree between the pull and the lock.
Result<MountResult> MountOnce(const std::string& ref, const std::string& dest,
                              const MountOptions& options) {
  MountResult out;
  ASSIGN_OR_RETURN(out.pull, PullToStore(ref, options.pull));
  ASSIGN_OR_RETURN(store::Store st, store::Store::Open(options.pull.store_dir));
  const oci::Digest& m = out.pull.manifest;
  ASSIGN_OR_RETURN(store::FileLock lock,
                   store::FileLock::Acquire(st.LockPath(m), store::FileLock::Mode::kShared));
  if (!st.HasTree(m)) {
    return Unavailable("image " + m.ToString() + " was removed from the store while mounting");
  }
  out.target = st.RootfsDir(m) + (options.subdir.empty() ? "" : "/" + options.subdir);
  struct stat s;
  if (::stat(out.target.c_str(), &s) != 0 || !S_ISDIR(s.st_mode)) {
    return NotFound("image " + out.pull.pinned + " has no /" + options.subdir + " directory");
  }
  // The lease goes first: a gc that runs right after the link exists must already see it.
  std::string link = Absolute(dest);
  while (link.size() > 1 && link.back() == '/') link.pop_back();
  struct stat ls;
  if (::lstat(link.c_str(), &ls) == 0 && S_ISDIR(ls.st_mode)) {
    link += "/" + (options.subdir.empty() ? std::string("rootfs") : options.subdir);
  }
  RETURN_IF_ERROR(st.AddLease(m, link));
  CrashPoint("mount.leased");
  ASSIGN_OR_RETURN(out.link, AtomicSymlink(out.target, link));
  (void)st.Touch(m);
  return out;
}

}  // namespace

Result<MountResult> MountImage(const std::string& ref, const std::string& dest,
                               const MountOptions& options) {
  // A gc may evict the freshly pulled (not yet leased) tree before the lock is taken: pull again.
  for (int attempt = 1;; ++attempt) {
    auto r = MountOnce(ref, dest, options);
    if (r.ok() || r.status().code() != Code::kUnavailable || attempt == 3) return r;
    if (options.pull.log) options.pull.log(r.status().message() + "; pulling again");
  }
}

}  // namespace modelcar
