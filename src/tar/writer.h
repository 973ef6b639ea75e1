// Deterministic tar writer: POSIX ustar headers, plus a pax extended header ('x') when a field
// does not fit (path or link over 100 bytes or not ASCII, size of 8 GiB or more, uid/gid over
// 2097151). The output depends only on the Header fields: no user/group names, no device numbers,
// no atime/ctime, the pax header's own name derived from the entry's. Used by `modelcar build`.
#ifndef MODELCAR_TAR_WRITER_H_
#define MODELCAR_TAR_WRITER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::tar {

inline constexpr size_t kBlockSize = 512;

enum class WriteType : char {
  kRegular = '0',
  kHardLink = '1',
  kSymlink = '2',
  kDirectory = '5',
};

struct Header {
  std::string path;  // relative, no leading "/" or "./"; directories get a trailing "/" added
  WriteType type = WriteType::kRegular;
  uint64_t size = 0;  // regular files only
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime = 0;        // seconds since the epoch, >= 0
  std::string link_target;  // symlinks and hard links
};

// The header block(s) for `h`: an optional pax header (block-padded) followed by the ustar block.
// InvalidArgument for an empty path, a NUL in a name, or a negative mtime.
Result<std::string> EncodeHeader(const Header& h);

// Zero bytes that follow `size` bytes of file data to reach a block boundary.
inline uint64_t PaddingFor(uint64_t size) { return (kBlockSize - size % kBlockSize) % kBlockSize; }

// The size of the whole entry in the archive (headers + data + padding).
Result<uint64_t> EntrySize(const Header& h);

// The end-of-archive marker: two zero blocks.
inline constexpr size_t kTrailerSize = 2 * kBlockSize;

// Streams an archive into `out`. Not thread-safe. Usage:
//   Writer w(out);  w.Begin(h);  w.Data(...)*;  w.End();  ...  w.Finish();
class Writer {
 public:
  using Output = std::function<Status(std::string_view)>;
  explicit Writer(Output out) : out_(std::move(out)) {}

  // Starts an entry (writes its headers). REQUIRES: the previous entry ended.
  Status Begin(const Header& h);
  // File data of the current entry; the pieces must add up to exactly h.size.
  Status Data(std::string_view bytes);
  // Ends the entry (writes padding). FailedPrecondition if fewer than h.size bytes were given.
  Status End();
  // Writes the end-of-archive marker.
  Status Finish();
  // Convenience: Begin + Data + End for a small in-memory file or a non-file entry.
  Status Add(const Header& h, std::string_view data = {});

  uint64_t bytes_written() const { return written_; }

 private:
  Status Emit(std::string_view bytes);
  Output out_;
  std::string path_;  // current entry (for messages)
  uint64_t remaining_ = 0;
  uint64_t size_ = 0;
  bool open_ = false;
  uint64_t written_ = 0;
};

}  // namespace modelcar::tar

#endif  // MODELCAR_TAR_WRITER_H_
