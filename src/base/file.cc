#include "base/file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "base/crashpoint.h"
#include "base/resident.h"

namespace modelcar {

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> OpenFile(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, "open " + path);
  return UniqueFd(fd);
}

Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return ResourceExhausted(fmt::format("{}: file is {} bytes, more than the limit of {}", path,
                                         st.st_size, max_bytes));
  }
  std::string out;
  ReserveResident(out, static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) return ResourceExhausted(path + ": file grew past the limit");
  }
  return out;
}

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, std::string("write ") + std::string(what));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status();
}

void WritebackPacer::Wrote(int fd, uint64_t end) {
  if (end < started_ + step_) return;
  (void)::sync_file_range(fd, static_cast<off_t>(started_), static_cast<off_t>(end - started_),
                          SYNC_FILE_RANGE_WRITE);
  started_ = end;
}

Status FsyncDir(const std::string& dir) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync " + dir);
  return Status();
}

Status MakeDirs(const std::string& path, int mode) {
  if (path.empty()) return Status();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status();
    return FailedPrecondition(path + " exists and is not a directory");
  }
  std::string parent = DirName(path);
  if (parent != path && parent != "." && parent != "/") RETURN_IF_ERROR(MakeDirs(parent, mode));
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir " + path);
  }
  return Status();
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

Status WriteFileAtomic(const std::string& path, std::string_view data, int mode) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = fmt::format("{}.tmp-{}", path, rng() % 1000000000);
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, mode));
  Status st = WriteAll(fd.get(), data, tmp);
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoStatus(errno, "fsync " + tmp);
  fd.Reset();
  CrashPoint("file.atomic-replace");  // every atomic replace: refs, tree.json, index.json, ...
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = ErrnoStatus(errno, "rename " + tmp);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return FsyncDir(DirName(path));
}

FileStamp StampOf(const std::string& path) {
  FileStamp s;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    s = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
         static_cast<int64_t>(st.st_size),
         int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
  }
  return s;
}

}  // namespace modelcar
