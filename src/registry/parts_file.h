// The progress file of a blob downloaded as parallel ranged parts ("<partial>.parts", beside the
// partial file): one fixed-width text line per part, "START END DONE" (20 digits each), where
// bytes [START, START+DONE) of the part are in the partial file. A part's line is rewritten in
// place (one pwrite) after each of its writes, so a download killed at any moment (kill -9,
// Ctrl-C, a lost network) resumes every part where its bytes end instead of refetching them; a
// partial file with holes is never mistaken for a contiguous prefix. Not synced: after a power
// loss a line may claim bytes that did not reach the disk, which the blob's digest check then
// catches (the download starts over).
// Thread safety: Update may be called concurrently for different parts.
#ifndef MODELCAR_REGISTRY_PARTS_FILE_H_
#define MODELCAR_REGISTRY_PARTS_FILE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/status.h"

namespace modelcar::registry {

struct Part {
  uint64_t start = 0;
  uint64_t end = 0;
  std::atomic<uint64_t> done{0};  // bytes written contiguously from start
};
using Parts = std::vector<std::unique_ptr<Part>>;

// Parts of [from, size) of at most `part_size` bytes each, nothing done.
Parts SplitParts(uint64_t from, uint64_t size, uint64_t part_size);

class PartsFile {
 public:
  PartsFile() = default;
  // Writes the lines of `parts` to `path` (replacing it).
  static Result<PartsFile> Create(const std::string& path, const Parts& parts);
  // Reads `path`: the parts of a download of a `size`-byte blob whose partial file has
  // `file_size` bytes. Empty when the file is missing or does not describe such a download
  // (parts must be in order, adjacent, end at `size`, and lie within the partial file).
  static Parts Load(const std::string& path, uint64_t size, uint64_t file_size);
  // Records that part `i` has `done` bytes.
  Status Update(size_t i, uint64_t done);

 private:
  std::string path_;
  UniqueFd fd_;
};

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_PARTS_FILE_H_
