#include "peer/tree_layers.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>

#include "base/file.h"

namespace modelcar::peer {

Status HoldBackSink::Write(std::string_view b) {
  if (b.empty()) return Status();
  if (!held_.empty()) RETURN_IF_ERROR(sink_(held_));
  held_.assign(1, b.back());
  b.remove_suffix(1);
  return b.empty() ? Status() : sink_(b);
}

Status HoldBackSink::Release() {
  Status s = held_.empty() ? Status() : sink_(held_);
  held_.clear();
  return s;
}

std::string TreeLayers::PiecesPath(const oci::Digest& m, size_t index, uint64_t piece_size) const {
  return fmt::format("{}/layers/{}.pieces-{}", store_.TreeDir(m), index, piece_size);
}

Result<std::shared_ptr<TreeLayers::Layer>> TreeLayers::Get(const oci::Digest& m, size_t index,
                                                           const store::LayerRecord& layer) {
  std::shared_ptr<Layer> l;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = layers_[{m, index}];
    if (!slot) slot = std::make_shared<Layer>();
    l = slot;
    if (l->map) return l;
  }
  std::string skel_path = fmt::format("{}/layers/{}.skel", store_.TreeDir(m), index);
  ASSIGN_OR_RETURN(std::string skel, ReadFile(skel_path, 256 << 20));
  ASSIGN_OR_RETURN(tar::StreamMap map, tar::StreamMap::FromSkeleton(skel));
  if (map.size() != static_cast<uint64_t>(layer.size)) {
    return DataLoss(fmt::format("layer {}: its skeleton describes {} bytes, the manifest says {}",
                                layer.digest.ToString(), map.size(), layer.size));
  }
  ASSIGN_OR_RETURN(store::TreeInfo tree, store_.ReadTree(m));
  std::vector<std::string> dirs = store_.LayerDataDirs(m, index, tree.layers.size());
  std::lock_guard<std::mutex> lock(mu_);
  if (!l->map) {
    l->dirs = std::move(dirs);
    l->map = std::make_shared<const tar::StreamMap>(std::move(map));
  }
  return l;
}

Result<PieceList> TreeLayers::Pieces(const oci::Digest& m, size_t index,
                                     const store::LayerRecord& layer, uint64_t piece_size) {
  RETURN_IF_ERROR(CheckPieceSize(piece_size));
  ASSIGN_OR_RETURN(std::shared_ptr<Layer> l, Get(m, index, layer));
  std::lock_guard<std::mutex> compute(l->compute_mu);
  const std::string path = PiecesPath(m, index, piece_size);
  if (auto text = ReadFile(path, 64 << 20); text.ok()) {
    auto list = PieceList::FromJson(*text);
    if (list.ok() && list->digest == layer.digest &&
        list->geometry.blob_size == static_cast<uint64_t>(layer.size) &&
        list->geometry.piece_size == piece_size) {
      return list;
    }
  }
  PieceList list;
  list.digest = layer.digest;
  list.geometry = {static_cast<uint64_t>(layer.size), piece_size};
  PieceHasher hasher(list.geometry);
  ASSIGN_OR_RETURN(tar::DataRoots roots, tar::DataRoots::Open(l->dirs));
  RETURN_IF_ERROR(
      tar::RebuildRange(*l->map, roots.fds(), 0, l->map->size(), [&](std::string_view b) {
        hasher.Update(b);
        return Status();
      }));
  if (hasher.FinishBlob() != layer.digest) {
    return DataLoss("layer " + layer.digest.ToString() +
                    ": the tree's bytes do not hash to its digest");
  }
  list.pieces = hasher.pieces();
  RETURN_IF_ERROR(SavePieces(m, index, list));
  return list;
}

Status TreeLayers::SavePieces(const oci::Digest& m, size_t index, const PieceList& list) {
  return WriteFileAtomic(PiecesPath(m, index, list.geometry.piece_size), list.ToJson() + "\n");
}

Status TreeLayers::ReadWhole(const oci::Digest& m, size_t index, const store::LayerRecord& layer,
                             const Sink& sink) {
  ASSIGN_OR_RETURN(std::shared_ptr<Layer> l, Get(m, index, layer));
  ASSIGN_OR_RETURN(tar::DataRoots roots, tar::DataRoots::Open(l->dirs));
  oci::Sha256 h;
  HoldBackSink out(sink);
  RETURN_IF_ERROR(
      tar::RebuildRange(*l->map, roots.fds(), 0, l->map->size(), [&](std::string_view b) {
        h.Update(b);
        return out.Write(b);
      }));
  oci::Digest got = h.Finish();
  if (got != layer.digest) {
    return DataLoss("layer " + layer.digest.ToString() + ": the tree's bytes hash to " +
                    got.ToString() + "; not sending the last byte");
  }
  return out.Release();
}

Status TreeLayers::ReadRange(const oci::Digest& m, size_t index, const store::LayerRecord& layer,
                             uint64_t offset, uint64_t length, uint64_t piece_size,
                             const Sink& sink) {
  ASSIGN_OR_RETURN(PieceList list, Pieces(m, index, layer, piece_size));
  ASSIGN_OR_RETURN(std::shared_ptr<Layer> l, Get(m, index, layer));
  ASSIGN_OR_RETURN(tar::DataRoots roots, tar::DataRoots::Open(l->dirs));
  const PieceGeometry& g = list.geometry;
  const uint64_t end = offset + length;
  HoldBackSink out(sink);
  for (uint64_t k = g.index_of(offset); k < g.count() && g.start(k) < end; ++k) {
    const uint64_t ps = g.start(k), pe = ps + g.length(k);
    uint64_t pos = ps;
    oci::Sha256 h;
    RETURN_IF_ERROR(tar::RebuildRange(*l->map, roots.fds(), ps, pe - ps, [&](std::string_view b) {
      h.Update(b);
      const uint64_t chunk_start = pos;
      pos += b.size();
      // The part of this chunk inside [offset, end).
      uint64_t from = std::max(chunk_start, offset), to = std::min(pos, end);
      if (from >= to) return Status();
      return out.Write(b.substr(from - chunk_start, to - from));
    }));
    if (h.Finish() != list.pieces[k]) {
      return DataLoss(fmt::format(
          "layer {}: piece {} of the tree does not match its verified hash; not sending the rest",
          layer.digest.ToString(), k));
    }
  }
  return out.Release();
}

}  // namespace modelcar::peer
