#include "peer/peer_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <future>

#include "http/url.h"
#include "oci/digest.h"

namespace modelcar::peer {

Result<std::vector<std::string>> ParsePeers(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (std::string v : values) {
    while (!v.empty() && v.back() == '/') v.pop_back();
    if (v.empty()) continue;
    std::string scheme = http::UrlScheme(v);
    if ((scheme != "http" && scheme != "https") || http::UrlHost(v).empty() ||
        v.find('/', scheme.size() + 3) != std::string::npos) {
      return InvalidArgument("--peers " + http::RedactUrl(v) +
                             ": expected http://HOST:PORT or https://HOST:PORT");
    }
    out.push_back(std::move(v));
  }
  return out;
}

PeerSource::PeerSource(PeerSourceOptions options) : options_(std::move(options)) {
  std::set<std::string> near;
  for (std::string p : options_.near) {
    while (!p.empty() && p.back() == '/') p.pop_back();
    near.insert(std::move(p));
  }
  options_.near = std::move(near);
  for (std::string& p : options_.peers) {
    while (!p.empty() && p.back() == '/') p.pop_back();
  }
  http::ClientOptions co;
  co.connect_timeout_s = options_.connect_timeout_s;
  co.low_speed_time_s = options_.stall_s;
  co.use_env_proxy = false;  // peers are in the cluster
  client_ = std::make_unique<http::Client>(co);
}

void PeerSource::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

std::vector<size_t> PeerSource::Order(const oci::Digest& d, uint64_t index) const {
  std::vector<size_t> order = RendezvousOrder(options_.peers, d, index);
  if (!options_.near.empty()) {
    std::stable_partition(order.begin(), order.end(),
                          [this](size_t i) { return options_.near.count(options_.peers[i]) > 0; });
  }
  return order;
}

bool PeerSource::Usable(const std::string& peer, const oci::Digest& d) const {
  std::lock_guard<std::mutex> lock(mu_);
  return !dropped_.count(peer) && !missing_.count({peer, d});
}

void PeerSource::Drop(const std::string& peer, const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!dropped_.insert(peer).second) return;
  }
  Log("peer " + http::RedactUrl(peer) + " dropped: " + why);
}

Result<PieceList> PeerSource::FetchList(const oci::Descriptor& d) {
  for (size_t i : Order(d.digest, 0)) {
    const std::string& peer = options_.peers[i];
    if (!Usable(peer, d.digest)) continue;
    http::Request req;
    req.url = peer + "/modelcar/v1/pieces/" + d.digest.ToString();
    req.max_body = uint64_t{16} << 20;
    Result<http::Response> r = client_->Do(req);
    if (!r.ok()) {
      if (r.status().code() == Code::kCancelled) return r.status();
      Drop(peer, r.status().message());
      continue;
    }
    if (r->status == 404) {
      std::lock_guard<std::mutex> lock(mu_);
      missing_.insert({peer, d.digest});
      continue;
    }
    if (r->status != 200) {
      Drop(peer, fmt::format("piece list of {}: HTTP {}", d.digest.ToString(), r->status));
      continue;
    }
    Result<PieceList> list = PieceList::FromJson(r->body);
    if (!list.ok() || list->digest != d.digest ||
        list->geometry.blob_size != static_cast<uint64_t>(d.size)) {
      Drop(peer, "sent a piece list that does not describe " + d.digest.ToString());
      continue;
    }
    return *list;
  }
  return NotFound("no peer has " + d.digest.ToString());
}

Result<std::string> PeerSource::GetPiece(const std::string& peer, const std::string& repo,
                                         const PieceList& list, uint64_t index) {
  const uint64_t start = list.geometry.start(index), length = list.geometry.length(index);
  std::string buf;
  buf.reserve(length);
  http::Request req;
  req.url = peer + "/v2/" + repo + "/blobs/" + list.digest.ToString();
  req.headers = {{"Range", fmt::format("bytes={}-{}", start, start + length - 1)}};
  req.on_response = [](long status, const http::Headers&) -> Status {
    if (status != 206) return DataLoss(fmt::format("answered HTTP {} to a Range", status));
    return Status();
  };
  req.on_body = [&](std::string_view b) -> Status {
    if (buf.size() + b.size() > length) return DataLoss("sent more bytes than the piece has");
    buf.append(b);
    return Status();
  };
  ASSIGN_OR_RETURN(http::Response r, client_->Do(req));
  if (r.status == 404) return NotFound("404");
  if (r.status != 206) return Unavailable(fmt::format("HTTP {}", r.status));
  if (buf.size() != length) {
    return DataLoss(fmt::format("piece {} ended after {} of {} bytes", index, buf.size(), length));
  }
  if (oci::Sha256Of(buf) != list.pieces[index]) {
    return DataLoss(
        fmt::format("piece {} of {} does not match its hash", index, list.digest.ToString()));
  }
  return buf;
}

Result<std::string> PeerSource::FetchPiece(const std::string& repo, const PieceList& list,
                                           uint64_t index) {
  for (size_t i : Order(list.digest, index)) {
    const std::string& peer = options_.peers[i];
    if (!Usable(peer, list.digest)) continue;
    Result<std::string> piece = GetPiece(peer, repo, list, index);
    if (piece.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.pieces;
      return piece;
    }
    const Status& s = piece.status();
    if (s.code() == Code::kCancelled) return s;
    if (s.code() == Code::kNotFound) {
      std::lock_guard<std::mutex> lock(mu_);
      missing_.insert({peer, list.digest});
      continue;
    }
    if (s.code() == Code::kDataLoss) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.rejected;
    }
    Drop(peer, s.message());
  }
  return Unavailable(
      fmt::format("no peer could supply piece {} of {}", index, list.digest.ToString()));
}

Status PeerSource::Stream(const std::string& repo, const oci::Descriptor& d, uint64_t offset,
                          const std::function<Status(std::string_view)>& sink,
                          uint64_t* delivered) {
  *delivered = 0;
  if (d.size < 0 || offset >= static_cast<uint64_t>(d.size)) return Status();
  ASSIGN_OR_RETURN(PieceList list, FetchList(d));
  const PieceGeometry& g = list.geometry;
  const uint64_t first = g.index_of(offset), count = g.count();
  std::deque<std::future<Result<std::string>>> inflight;  // pieces next, next+1, ... in order
  uint64_t next = first;
  for (uint64_t i = first; i < count; ++i) {
    while (next < count && inflight.size() < static_cast<size_t>(std::max(1, options_.window))) {
      inflight.push_back(std::async(std::launch::async, [this, &repo, &list, n = next] {
        return FetchPiece(repo, list, n);
      }));
      ++next;
    }
    Result<std::string> piece = inflight.front().get();
    inflight.pop_front();
    if (!piece.ok()) return piece.status();  // the futures left finish before they are destroyed
    std::string_view bytes(*piece);
    if (i == first) bytes.remove_prefix(offset - g.start(i));
    RETURN_IF_ERROR(sink(bytes));
    *delivered += bytes.size();
    std::lock_guard<std::mutex> lock(mu_);
    stats_.bytes += bytes.size();
  }
  return Status();
}

PeerStats PeerSource::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace modelcar::peer
