#include "base/resident.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older headers lack the name
#endif

namespace modelcar {

void Populate(void* p, size_t bytes) {
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(page - 1);
  if (end <= begin) return;
  // Huge pages for the 2 MB-aligned middle of large blocks: one fault (and one page-table entry)
  // per 2 MB instead of 512. Where transparent huge pages are off this is refused and ignored.
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t huge_begin = (begin + kHuge - 1) & ~(kHuge - 1), huge_end = end & ~(kHuge - 1);
  if (huge_end > huge_begin) {
    (void)::madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE);
  }
  // Whole pages inside the block only: the ones at its edges may be shared with other blocks,
  // which populating would not harm, but they are touched anyway. Errors (EINVAL on old
  // kernels) leave the pages to fault in as before.
  (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
}

void* AllocateHugeAligned(size_t bytes) {
  void* p = nullptr;
  if (::posix_memalign(&p, size_t{2} << 20, bytes) != 0) throw std::bad_alloc();
  Populate(p, bytes);
  return p;
}

void FreeHugeAligned(void* p) { std::free(p); }

}  // namespace modelcar
