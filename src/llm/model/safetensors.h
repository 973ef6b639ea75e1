// Safetensors files: header parsing and validation (pure), and read-only memory maps.
//
// Format: 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {...}}, then the data section. Validation here:
// N <= 100 MB and inside the file, JSON parses, every entry has a known dtype, a shape of
// non-negative dims, offsets with begin <= end inside the data section, byte length equal to
// product(shape) * dtype size, and no two tensors overlap. Errors name the file and tensor.
#ifndef MODELCAR_LLM_MODEL_SAFETENSORS_H_
#define MODELCAR_LLM_MODEL_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "llm/model/dtype.h"

namespace modelcar::llm {

inline constexpr uint64_t kMaxSafetensorsHeader = 100ull << 20;

struct TensorInfo {
  std::string name;
  std::string dtype_name;  // as in the header: "BF16", "F32", "I64", ...
  DType dtype = DType::kOther;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // offsets relative to the start of the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // 8 + header length
  std::map<std::string, TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
};

// Parses and validates a header. `prefix` holds at least the first 8 + N bytes of the file
// (or the whole file); `file_size` is the size of the whole file. `what` names the file in
// errors. Never reads outside `prefix`.
Result<SafetensorsHeader> ParseSafetensorsHeader(std::string_view prefix, uint64_t file_size,
                                                 std::string_view what);

// A read-only mmap of a whole file. Movable; unmaps on destruction. Thread-safe to read.
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  uint64_t size() const { return size_; }
  // Maps every page now (MADV_POPULATE_READ, reading what the page cache lacks) instead of at
  // first touch, so the first pass over the weights takes no page faults. Best effort: on a
  // kernel without it (< 5.14) it asks for readahead (MADV_WILLNEED) and returns.
  void Populate() const;
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const std::byte* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
};

// An opened, validated safetensors file: the header plus its mapping.
struct SafetensorsFile {
  std::unique_ptr<MappedFile> map;
  SafetensorsHeader header;
  // Start of a tensor's bytes. REQUIRES: `t` comes from this file's header.
  const std::byte* Data(const TensorInfo& t) const {
    return map->data() + header.data_start + t.begin;
  }
};

Result<SafetensorsFile> OpenSafetensors(const std::string& path);

// Parses model.safetensors.index.json: {"weight_map": {tensor: file}}. Returns tensor -> file
// (a plain file name in the same directory; names with '/' or ".." are rejected).
Result<std::map<std::string, std::string>> ParseSafetensorsIndex(std::string_view json,
                                                                 std::string_view what);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_SAFETENSORS_H_
