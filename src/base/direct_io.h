// Direct I/O for big sequential writes: an appender that sends large aligned pieces past the page
// cache (O_DIRECT) and everything else through it, and aligned buffers to read into.
//
// Why: `build` and friends write gigabytes that are fsynced before they become visible anyway.
// Buffered writes pay a kernel copy into the page cache plus the writeback work later (about a
// third of a build's CPU); direct writes let the device take the bytes straight from the caller's
// buffer while the caller hashes the same buffer.
#ifndef MODELCAR_BASE_DIRECT_IO_H_
#define MODELCAR_BASE_DIRECT_IO_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/file.h"
#include "base/status.h"

namespace modelcar {

// A heap buffer aligned to 4096 bytes (enough for direct I/O on every common device).
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t size);
  char* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, Free> data_;
  size_t size_;
};

// Writes a new file sequentially from offset 0 through `fd` (opened for writing, not O_DIRECT;
// not owned).
// A piece is written with O_DIRECT when it is at least `min_direct` bytes and its file offset,
// length and address are multiples of the file's direct-I/O alignment (statx STATX_DIOALIGN);
// other pieces are written buffered, and their writeback is started early (WritebackPacer).
// The file content is the same either way; on a filesystem without direct I/O (tmpfs, ...) every
// piece is buffered. The caller still fsyncs at the end (for metadata and buffered pieces).
// Not thread-safe; one per file. The fd's O_DIRECT flag is toggled while appending.
class Appender {
 public:
  Appender(int fd, std::string path, size_t min_direct = size_t{1} << 20);
  Status Append(std::string_view data);
  uint64_t size() const { return size_; }
  uint64_t direct_bytes() const { return direct_bytes_; }  // how much went past the page cache

 private:
  bool Aligned(std::string_view data) const;
  Status SetDirect(bool on);

  int fd_;
  std::string path_;
  size_t min_direct_;
  uint32_t mem_align_ = 0;  // 0 = no direct I/O on this file
  uint32_t offset_align_ = 0;
  bool direct_ = false;  // O_DIRECT currently set on fd_
  uint64_t size_ = 0;
  uint64_t direct_bytes_ = 0;
  WritebackPacer writeback_;
};

}  // namespace modelcar

#endif  // MODELCAR_BASE_DIRECT_IO_H_
