#include "base/direct_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <new>

namespace modelcar {

AlignedBuffer::AlignedBuffer(size_t size) : size_(size) {
  size_t rounded = (size + 4095) / 4096 * 4096;
  data_.reset(static_cast<char*>(std::aligned_alloc(4096, rounded == 0 ? 4096 : rounded)));
  if (!data_) throw std::bad_alloc();
}

void AlignedBuffer::Free::operator()(char* p) const { std::free(p); }

Appender::Appender(int fd, std::string path, size_t min_direct)
    : fd_(fd), path_(std::move(path)), min_direct_(min_direct) {
  struct statx st;
  if (::statx(fd_, "", AT_EMPTY_PATH, STATX_DIOALIGN, &st) == 0 &&
      (st.stx_mask & STATX_DIOALIGN) != 0 && st.stx_dio_mem_align != 0 &&
      st.stx_dio_offset_align != 0) {
    mem_align_ = st.stx_dio_mem_align;
    offset_align_ = st.stx_dio_offset_align;
  }
}

bool Appender::Aligned(std::string_view data) const {
  return mem_align_ != 0 && data.size() >= min_direct_ && size_ % offset_align_ == 0 &&
         data.size() % offset_align_ == 0 &&
         reinterpret_cast<uintptr_t>(data.data()) % mem_align_ == 0;
}

Status Appender::SetDirect(bool on) {
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0) return ErrnoStatus(errno, "fcntl " + path_);
  if (::fcntl(fd_, F_SETFL, on ? (flags | O_DIRECT) : (flags & ~O_DIRECT)) != 0) {
    if (!on) return ErrnoStatus(errno, "fcntl " + path_);
    mem_align_ = 0;  // the filesystem refuses direct I/O after all: stay buffered
    return Status();
  }
  direct_ = on;
  return Status();
}

Status Appender::Append(std::string_view data) {
  bool direct = Aligned(data);
  if (direct != direct_) RETURN_IF_ERROR(SetDirect(direct));
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(size_));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && direct_) {
        // Some stacked filesystems announce alignments they then refuse: write buffered from
        // here on.
        RETURN_IF_ERROR(SetDirect(false));
        mem_align_ = 0;
        continue;
      }
      return ErrnoStatus(errno, "write " + path_);
    }
    if (direct_) direct_bytes_ += static_cast<uint64_t>(n);
    size_ += static_cast<uint64_t>(n);
    data.remove_prefix(static_cast<size_t>(n));
    if (!data.empty() && direct_) RETURN_IF_ERROR(SetDirect(false));  // short: finish buffered
  }
  if (!direct_) writeback_.Wrote(fd_, size_);
  return Status();
}

}  // namespace modelcar
