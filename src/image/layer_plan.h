// How a scanned model directory is split into layers (pure; no I/O).
//
// One layer per file of at least `small_file_threshold` bytes (sorted by path), and one layer
// holding every smaller file and every directory (first, when it is not empty). Each layer also
// carries the directory entries leading to its files, so any layer can be unpacked alone.
#ifndef MODELCAR_IMAGE_LAYER_PLAN_H_
#define MODELCAR_IMAGE_LAYER_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "image/model_scan.h"

namespace modelcar {

struct PlannedLayer {
  std::string title;               // the file's relative path for a per-file layer; "" for the
                                   // small-files layer
  std::vector<std::string> dirs;   // relative dirs to emit, sorted ("" = the models dir itself)
  std::vector<ScannedFile> files;  // sorted by rel_path
  uint64_t data_bytes = 0;         // sum of file sizes
};

std::vector<PlannedLayer> PlanLayers(const ModelScan& scan, uint64_t small_file_threshold);

}  // namespace modelcar

#endif  // MODELCAR_IMAGE_LAYER_PLAN_H_
