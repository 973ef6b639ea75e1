// Lists the entries of an uncompressed tar file by reading only its headers (seeking over file
// data), for `modelcar inspect`. Understands ustar, pax 'x' records (path, linkpath, size) and GNU
// long names ('L', 'K'). Does not verify content; thread-compatible.
#ifndef MODELCAR_TAR_LIST_H_
#define MODELCAR_TAR_LIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace modelcar::tar {

struct ListedEntry {
  std::string path;
  char type = '0';  // typeflag: '0' file, '5' dir, '2' symlink, '1' hard link, ...
  uint64_t size = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string link_target;
};

// Reads the headers of the tar file at `path`. DataLoss (naming the offset) on a bad checksum,
// a malformed number or an archive that ends inside an entry.
Result<std::vector<ListedEntry>> ListTarFile(const std::string& path);

}  // namespace modelcar::tar

#endif  // MODELCAR_TAR_LIST_H_
