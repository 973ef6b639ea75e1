// Memory made resident in one call instead of one page fault per 4 KB page on first touch.
//
// A process that fills a freshly allocated buffer of megabytes takes a page fault per page; on the
// VMs modelcar runs on a fault costs several microseconds (a trap to the hypervisor's kernel), so
// the tokenizer's ~60 MB of tables spent a third of its load time in faults. Populate asks the
// kernel to map the whole range at once (MADV_POPULATE_WRITE, Linux 5.14+).
#ifndef MODELCAR_BASE_RESIDENT_H_
#define MODELCAR_BASE_RESIDENT_H_

#include <cstddef>
#include <new>
#include <string>
#include <vector>

namespace modelcar {

// Maps the pages inside [p, p + bytes) of private anonymous memory (heap blocks) writable now.
// Best effort and invisible to the program: on older kernels, or for ranges under one page, it
// does nothing and the pages fault in as they are touched. Never changes the contents.
void Populate(void* p, size_t bytes);

// v.reserve(n), then Populate of the new capacity before anything is written to it.
template <typename T>
void ReserveResident(std::vector<T>& v, size_t n) {
  v.reserve(n);
  Populate(v.data(), v.capacity() * sizeof(T));
}
// v = n copies of `value` in a new resident block (the old one freed first).
template <typename T>
void AssignResident(std::vector<T>& v, size_t n, const T& value) {
  v = {};
  ReserveResident(v, n);
  v.assign(n, value);
}

// A block of `bytes` starting on a 2 MB boundary, made resident by Populate (so its whole 2 MB
// stretches are huge pages where transparent huge pages are on); released by FreeHugeAligned.
// Throws std::bad_alloc when out of memory.
void* AllocateHugeAligned(size_t bytes);
void FreeHugeAligned(void* p);
inline constexpr size_t kHugeAlignMin = size_t{1} << 20;

// For large blocks that a decode step streams through (quantized weights): blocks of
// kHugeAlignMin bytes or more from AllocateHugeAligned (one TLB entry, and one fault, per 2 MB;
// the 4 KB remainder at a block's end is not rounded up, so no memory is wasted), smaller ones
// from operator new on a 64-byte boundary. Stateless: any two compare equal.
template <typename T>
struct ResidentAllocator {
  using value_type = T;
  static constexpr std::align_val_t kLine{64};  // small blocks start on a cache line
  ResidentAllocator() = default;
  template <typename U>
  ResidentAllocator(const ResidentAllocator<U>&) {}  // NOLINT: allocator rebinding
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugeAlignMin) return static_cast<T*>(::operator new(bytes, kLine));
    return static_cast<T*>(AllocateHugeAligned(bytes));
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugeAlignMin) return ::operator delete(p, kLine);
    FreeHugeAligned(p);
  }
  friend bool operator==(const ResidentAllocator&, const ResidentAllocator&) { return true; }
};

inline void ReserveResident(std::string& s, size_t n) {
  s.reserve(n);
  Populate(s.data(), s.capacity());
}

}  // namespace modelcar

#endif  // MODELCAR_BASE_RESIDENT_H_
