#include "image/layer_plan.h"

#include <set>

namespace modelcar {

namespace {

// "" plus every ancestor directory of `rel` ("a/b/c" -> "", "a", "a/b").
void AddParents(const std::string& rel, std::set<std::string>* dirs) {
  dirs->insert("");
  for (size_t pos = rel.find('/'); pos != std::string::npos; pos = rel.find('/', pos + 1)) {
    dirs->insert(rel.substr(0, pos));
  }
}

}  // namespace

std::vector<PlannedLayer> PlanLayers(const ModelScan& scan, uint64_t small_file_threshold) {
  PlannedLayer small;
  std::vector<PlannedLayer> large;
  std::set<std::string> small_dirs;
  for (const ScannedFile& f : scan.files) {
    if (f.size >= small_file_threshold) {
      PlannedLayer layer;
      layer.title = f.rel_path;
      std::set<std::string> dirs;
      AddParents(f.rel_path, &dirs);
      layer.dirs.assign(dirs.begin(), dirs.end());
      layer.files.push_back(f);
      layer.data_bytes = f.size;
      large.push_back(std::move(layer));
    } else {
      AddParents(f.rel_path, &small_dirs);
      small.files.push_back(f);
      small.data_bytes += f.size;
    }
  }
  // Directories no large layer creates (empty ones, or holding only small files) go with the
  // small files, so that every directory of the model exists in the image.
  std::set<std::string> covered;
  for (const PlannedLayer& l : large) covered.insert(l.dirs.begin(), l.dirs.end());
  for (const std::string& d : scan.dirs) {
    if (!covered.count(d)) {
      AddParents(d + "/x", &small_dirs);
    }
  }
  std::vector<PlannedLayer> out;
  if (!small.files.empty() || !small_dirs.empty()) {
    small.dirs.assign(small_dirs.begin(), small_dirs.end());
    out.push_back(std::move(small));
  }
  for (PlannedLayer& l : large) out.push_back(std::move(l));
  return out;
}

}  // namespace modelcar
