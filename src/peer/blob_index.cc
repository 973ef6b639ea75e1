#include "peer/blob_index.h"

#include "oci/manifest.h"

namespace modelcar::peer {

std::optional<BlobLocation> BlobIndex::Find(const oci::Digest& d) {
  std::lock_guard<std::mutex> lock(mu_);
  auto now = std::chrono::steady_clock::now();
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - scanned_).count();
  if (!ever_scanned_ || age >= options_.max_age_ms) {
    RescanLocked();
  } else if (!blobs_.contains(d) && age >= options_.miss_rescan_ms) {
    RescanLocked();
  }
  auto it = blobs_.find(d);
  if (it == blobs_.end()) return std::nullopt;
  return it->second;
}

size_t BlobIndex::trees() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ever_scanned_) RescanLocked();
  return trees_;
}

void BlobIndex::RescanLocked() {
  blobs_.clear();
  trees_ = 0;
  ever_scanned_ = true;
  scanned_ = std::chrono::steady_clock::now();
  auto trees = store_.ListTrees();
  if (!trees.ok()) return;
  for (const oci::Digest& m : *trees) {
    if (store_.IsCorrupt(m)) continue;
    auto info = store_.ReadTree(m);
    if (!info.ok()) continue;
    if (info->pulled_with_credentials && !options_.serve_private) continue;
    if (options_.pinned_only) {
      auto leases = store_.LiveLeases(m);
      if (!leases.ok() || leases->empty()) continue;
    }
    auto manifest_bytes = store_.ReadBlob(m);
    if (!manifest_bytes.ok()) continue;
    auto manifest = oci::ParseManifest(*manifest_bytes, info->media_type);
    if (!manifest.ok()) continue;
    ++trees_;
    BlobLocation man;
    man.kind = BlobLocation::Kind::kManifest;
    man.tree = m;
    man.size = static_cast<int64_t>(manifest_bytes->size());
    man.media_type = info->media_type.empty() ? manifest->media_type : info->media_type;
    blobs_.emplace(m, man);
    BlobLocation cfg;
    cfg.kind = BlobLocation::Kind::kConfig;
    cfg.tree = m;
    cfg.size = manifest->config.size;
    cfg.media_type = manifest->config.media_type;
    blobs_.emplace(info->config, cfg);
    for (size_t i = 0; i < info->layers.size(); ++i) {
      const store::LayerRecord& l = info->layers[i];
      if (l.digest != l.diff_id) continue;  // compressed: its bytes cannot be rebuilt
      BlobLocation loc;
      loc.kind = BlobLocation::Kind::kLayer;
      loc.tree = m;
      loc.layer = i;
      loc.record = l;
      loc.size = l.size;
      loc.media_type = l.media_type;
      blobs_.emplace(l.digest, loc);
    }
  }
}

}  // namespace modelcar::peer
