// Walks a model directory and returns what `modelcar build` will put into the image.
//
// Rules (each violation is an error naming the offending path, relative to the model dir):
//   - the directory must exist and hold at least one regular file;
//   - regular files and directories are taken as they are;
//   - a symlink is followed when its target (resolved with realpath) is inside the model dir;
//     the link's path then holds the target's content (a file) or tree (a directory). A target
//     outside the model dir is refused unless `allow_outside_symlinks`; dangling links and loops
//     are refused;
//   - devices, fifos and sockets are refused;
//   - names must be valid UTF-8 and may not be "." or "..".
// Output is sorted by path (byte order) and does not depend on readdir order, mtimes or owners.
// Thread-compatible (pure function of the file system).
#ifndef MODELCAR_IMAGE_MODEL_SCAN_H_
#define MODELCAR_IMAGE_MODEL_SCAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace modelcar {

struct ScannedFile {
  std::string rel_path;     // "model.safetensors", "sub/tokenizer.json"
  std::string source_path;  // absolute path to read (a symlink's resolved target)
  uint64_t size = 0;
  bool executable = false;  // the owner may execute it (S_IXUSR); see BuildOptions::exec_file_mode
};

struct ModelScan {
  std::string root;                // realpath of the model dir
  std::vector<std::string> dirs;   // every sub-directory, relative ("sub", "sub/deeper")
  std::vector<ScannedFile> files;  // sorted by rel_path
  uint64_t total_bytes = 0;
};

struct ScanOptions {
  bool allow_outside_symlinks = false;
};

Result<ModelScan> ScanModelDir(const std::string& dir, const ScanOptions& options = {});

}  // namespace modelcar

#endif  // MODELCAR_IMAGE_MODEL_SCAN_H_
