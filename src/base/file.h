// Small POSIX file helpers shared by every module: an owning fd, whole-file reads and the
// crash-safe "write a temp file, fsync, rename, fsync the directory" commit.
#ifndef MODELCAR_BASE_FILE_H_
#define MODELCAR_BASE_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar {

// Owns a file descriptor; closes it on destruction. Movable, not copyable.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.Release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) Reset(o.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Opens `path` with open(2) flags; the error names the path.
Result<UniqueFd> OpenFile(const std::string& path, int flags, int mode = 0644);

// Reads a whole file. Fails with ResourceExhausted if it is larger than `max_bytes`.
Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes = uint64_t{1} << 30);

// Writes all of `data` to `fd` (retrying short writes and EINTR).
Status WriteAll(int fd, std::string_view data, std::string_view what);

// Starts writeback early so that a final fsync waits only for the tail of a big file. Feed it the
// end offset of each write; every `step` bytes it asks the kernel (sync_file_range WRITE, which
// does not wait) to write the bytes since the last request to disk. Overlaps disk writes with
// the producer (network, hashing) instead of paying them all at the fsync. Best effort: errors are
// ignored here and reported by the fsync. Not thread-safe; one per file.
class WritebackPacer {
 public:
  explicit WritebackPacer(uint64_t step = uint64_t{32} << 20) : step_(step) {}
  // `end` = offset just past the newest contiguous bytes written to `fd`.
  void Wrote(int fd, uint64_t end);

 private:
  uint64_t step_;
  uint64_t started_ = 0;  // writeback already requested for [0, started_)
};

// fsyncs a directory so that renames and creations inside it are durable.
Status FsyncDir(const std::string& dir);

// Creates `path` and its missing parents with `mode` (like mkdir -p). OK if it exists as a dir.
Status MakeDirs(const std::string& path, int mode = 0755);

// Atomically replaces `path` with `data`: writes `path`.tmp-XXXX in the same directory, fsyncs,
// renames over `path` and fsyncs the directory. Readers see the old or the new content, never a
// partial file; on error the temp file is removed.
Status WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0644);

// Parent directory of `path` ("." when it has no slash).
std::string DirName(std::string_view path);

// What tells whether a file was replaced or changed (config and certificate reloaders): device,
// inode, size and mtime. A file that cannot be stat'ed has the default stamp.
struct FileStamp {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
FileStamp StampOf(const std::string& path);

}  // namespace modelcar

#endif  // MODELCAR_BASE_FILE_H_
