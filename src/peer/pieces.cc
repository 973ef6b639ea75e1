#include "peer/pieces.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "base/json.h"

namespace modelcar::peer {

Status CheckPieceSize(uint64_t piece_size) {
  if (piece_size < kMinPieceSize || piece_size > kMaxPieceSize ||
      (piece_size & (piece_size - 1)) != 0) {
    return InvalidArgument(
        fmt::format("piece size {}: expected a power of two from 64 KiB to 256 MiB", piece_size));
  }
  return Status();
}

std::string PieceList::ToJson() const {
  nlohmann::json j;
  j["digest"] = digest.ToString();
  j["size"] = geometry.blob_size;
  j["pieceSize"] = geometry.piece_size;
  auto& arr = j["pieces"] = nlohmann::json::array();
  for (const oci::Digest& p : pieces) arr.push_back(p.hex());
  return j.dump();
}

Result<PieceList> PieceList::FromJson(std::string_view text) {
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJsonLimited(text, "piece list"));
  PieceList out;
  try {
    ASSIGN_OR_RETURN(out.digest, oci::Digest::Parse(j.at("digest").get<std::string>()));
    out.geometry.blob_size = j.at("size").get<uint64_t>();
    out.geometry.piece_size = j.at("pieceSize").get<uint64_t>();
    RETURN_IF_ERROR(CheckPieceSize(out.geometry.piece_size).WithContext("piece list"));
    const auto& arr = j.at("pieces");
    if (!arr.is_array() || arr.size() != out.geometry.count()) {
      return InvalidArgument(fmt::format("piece list of {}: expected {} pieces",
                                         out.digest.ToString(), out.geometry.count()));
    }
    for (const auto& p : arr) {
      ASSIGN_OR_RETURN(oci::Digest d, oci::Digest::FromHex(p.get<std::string>()));
      out.pieces.push_back(std::move(d));
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("piece list: ") + PrintableAscii(e.what()));
  }
  return out;
}

void PieceHasher::Update(std::string_view bytes) {
  whole_.Update(bytes);
  while (!bytes.empty()) {
    uint64_t index = g_.index_of(pos_);
    uint64_t piece_end = g_.start(index) + g_.length(index);
    size_t n = static_cast<size_t>(std::min<uint64_t>(bytes.size(), piece_end - pos_));
    piece_.Update(bytes.substr(0, n));
    pos_ += n;
    bytes.remove_prefix(n);
    if (pos_ == piece_end) pieces_.push_back(piece_.Finish());
  }
}

uint64_t RendezvousScore(std::string_view id, const oci::Digest& d, uint64_t index) {
  std::string key;
  key.reserve(id.size() + 100);
  key.append(id).append("\n").append(d.hex()).append("\n").append(std::to_string(index));
  const std::string hex = oci::Sha256Of(key).hex();
  return std::stoull(hex.substr(0, 16), nullptr, 16);
}

std::vector<size_t> RendezvousOrder(const std::vector<std::string>& ids, const oci::Digest& d,
                                    uint64_t index) {
  std::vector<uint64_t> score(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) score[i] = RendezvousScore(ids[i], d, index);
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (score[a] != score[b]) return score[a] > score[b];
    return ids[a] < ids[b];
  });
  return order;
}

int RendezvousOwner(const std::vector<std::string>& ids, const oci::Digest& d, uint64_t index) {
  if (ids.empty()) return -1;
  return static_cast<int>(RendezvousOrder(ids, d, index)[0]);
}

}  // namespace modelcar::peer
