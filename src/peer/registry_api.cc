#include "peer/registry_api.h"

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/prometheus.h"
#include "peer/distribution_path.h"
#include "peer/piece_spool.h"
#include "peer/swarm.h"

namespace modelcar::peer {

http::ServerResponse DistributionError(int status, std::string_view code,
                                       std::string_view message) {
  nlohmann::json j = {
      {"errors", {{{"code", std::string(code)}, {"message", std::string(message)}}}}};
  return http::ServerResponse::Json(status, j.dump());
}

RegistryApi::RegistryApi(store::Store store, RegistryApiOptions options)
    : store_(store), options_(std::move(options)), index_(store, options_.index), layers_(store) {}

void RegistryApi::Register(http::Server& server) {
  auto v2 = [this](const http::ServerRequest& r) { return Handle(r); };
  server.Handle("GET", "/v2/", v2);
  server.Handle("GET", "/v2", v2);
  server.Handle("GET", "/v2/*", v2);
  server.Handle("GET", std::string(kPiecesPrefix) + "*",
                [this](const http::ServerRequest& r) { return HandlePieces(r); });
  server.Handle("GET", std::string(kNodePath),
                [this](const http::ServerRequest& r) { return HandleNode(r); });
}

http::ServerResponse RegistryApi::HandleNode(const http::ServerRequest&) {
  auto id = store_.Id();
  if (!id.ok()) return DistributionError(500, "UNKNOWN", id.status().message());
  nlohmann::json j = {{"id", *id}, {"pieceSize", options_.piece_size}};
  return http::ServerResponse::Json(200, j.dump());
}

http::ServerResponse RegistryApi::SpooledBlob(const http::ServerRequest& r, const oci::Digest& d) {
  auto range_header = r.Header("Range");
  const int64_t size = range_header ? SpooledLayerSize(store_.root(), d, options_.piece_size) : -1;
  if (size <= 0) return http::ServerResponse{};
  auto range = ParseRange(range_header, static_cast<uint64_t>(size));
  if (!range.ok() || !*range) return http::ServerResponse{};
  std::string why;
  SpooledPiece piece = LookupSpooledPiece(store_.root(), d, options_.piece_size, (*range)->start,
                                          (*range)->length, &why, &spool_hashes_);
  if (!why.empty()) {
    ++cut_;
    Log("serve " + d.ToString() + ": " + why);
  }
  switch (piece.state) {
    case SpooledPiece::State::kReady: {
      ++hits_;
      http::ServerResponse resp;
      resp.status = 206;
      resp.content_type = "application/octet-stream";
      resp.headers.push_back({"Docker-Content-Digest", d.ToString()});
      resp.headers.push_back({std::string(kPieceDigestHeader), piece.digest.ToString()});
      resp.headers.push_back(
          {"Content-Range", fmt::format("bytes {}-{}/{}", (*range)->start,
                                        (*range)->start + (*range)->length - 1, size)});
      if (r.method != "HEAD") bytes_ += piece.bytes.size();
      resp.body = std::move(piece.bytes);
      return resp;
    }
    case SpooledPiece::State::kPending: {
      ++pending_;
      auto resp =
          DistributionError(503, "PIECE_PENDING",
                            fmt::format("piece {} of {} is on its way", piece.index, d.ToString()));
      resp.headers.push_back({std::string(kSpoolProgressHeader), std::to_string(piece.progress)});
      if (piece.no_range) resp.headers.push_back({std::string(kNoRangeHeader), "1"});
      return resp;
    }
    case SpooledPiece::State::kAbsent:
      if (piece.no_range) {
        ++misses_;
        auto resp = DistributionError(404, "BLOB_UNKNOWN",
                                      d.ToString() + ": this piece is not on its way here");
        resp.headers.push_back({std::string(kNoRangeHeader), "1"});
        return resp;
      }
      break;
  }
  return http::ServerResponse{};
}

http::ServerResponse RegistryApi::HandlePieces(const http::ServerRequest& r) {
  auto digest = oci::Digest::Parse(std::string_view(r.path).substr(kPiecesPrefix.size()));
  if (!digest.ok()) {
    ++bad_requests_;
    return DistributionError(400, "DIGEST_INVALID", digest.status().message());
  }
  auto loc = index_.Find(*digest);
  if (!loc || loc->kind != BlobLocation::Kind::kLayer) {
    ++misses_;
    return DistributionError(404, "BLOB_UNKNOWN",
                             digest->ToString() + " is not served by this node");
  }
  auto list = layers_.Pieces(loc->tree, loc->layer, loc->record, options_.piece_size);
  if (!list.ok()) {
    ++cut_;
    Log("piece list of " + digest->ToString() + ": " + list.status().message());
    return DistributionError(404, "BLOB_UNKNOWN", digest->ToString() + " is not readable here");
  }
  ++hits_;
  return http::ServerResponse::Json(200, list->ToJson());
}

void RegistryApi::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

http::ServerResponse RegistryApi::Handle(const http::ServerRequest& r) {
  // Spools of finished pulls stay while peers read them; drop the idle ones now and then.
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
  int64_t last = last_spool_sweep_s_.load();
  if (now_s - last >= 10 && last_spool_sweep_s_.compare_exchange_strong(last, now_s)) {
    RemoveStaleSpools(store_.root(), kSpoolIdleSeconds);
  }
  if (r.path == "/v2/" || r.path == "/v2") {
    auto resp = http::ServerResponse::Json(200, "{}");
    resp.headers.push_back({"Docker-Distribution-API-Version", "registry/2.0"});
    return resp;
  }
  auto path = ParseDistributionPath(r.path);
  if (!path.ok()) {
    ++bad_requests_;
    return DistributionError(404, "NAME_INVALID", path.status().message());
  }
  const bool manifest = path->kind == DistributionPath::Kind::kManifest;
  auto digest = oci::Digest::Parse(path->reference);
  if (!digest.ok()) {
    ++misses_;
    if (manifest) {
      return DistributionError(
          404, "MANIFEST_UNKNOWN",
          "this mirror serves content by digest only, not tag " + path->reference);
    }
    return DistributionError(400, "DIGEST_INVALID", digest.status().message());
  }
  auto loc = index_.Find(*digest);
  if (!loc && !manifest) {  // a piece of a layer this node is still receiving (piece_spool.h)
    http::ServerResponse spooled = SpooledBlob(r, *digest);
    if (spooled.status != 200) return spooled;
  }
  if (!loc || (manifest && loc->kind != BlobLocation::Kind::kManifest)) {
    ++misses_;
    return DistributionError(404, manifest ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN",
                             digest->ToString() + " is not served by this node");
  }
  ++hits_;
  if (loc->kind == BlobLocation::Kind::kLayer) return LayerBlob(r, *loc, *digest);
  return Blob(r, *loc, *digest);
}

// Manifests and configs: small, verified on every read.
http::ServerResponse RegistryApi::Blob(const http::ServerRequest& r, const BlobLocation& loc,
                                       const oci::Digest& d) {
  auto bytes = store_.ReadBlob(d);
  if (!bytes.ok()) {
    Log("serve " + d.ToString() + ": " + bytes.status().message());
    ++cut_;
    return DistributionError(404, "BLOB_UNKNOWN", d.ToString() + " is not readable here");
  }
  http::ServerResponse resp;
  resp.status = 200;
  resp.content_type = loc.media_type.empty() ? "application/octet-stream" : loc.media_type;
  resp.headers.push_back({"Docker-Content-Digest", d.ToString()});
  resp.headers.push_back({"ETag", "\"" + d.ToString() + "\""});
  if (loc.kind != BlobLocation::Kind::kManifest) {
    resp.headers.push_back({"Accept-Ranges", "bytes"});
    auto range = ParseRange(r.Header("Range"), bytes->size());
    if (!range.ok()) {
      auto e = DistributionError(416, "RANGE_INVALID", range.status().message());
      e.headers.push_back({"Content-Range", fmt::format("bytes */{}", bytes->size())});
      return e;
    }
    if (*range) {
      resp.status = 206;
      resp.headers.push_back(
          {"Content-Range", fmt::format("bytes {}-{}/{}", (*range)->start,
                                        (*range)->start + (*range)->length - 1, bytes->size())});
      *bytes = bytes->substr((*range)->start, (*range)->length);
    }
  }
  if (r.method != "HEAD") bytes_ += bytes->size();
  resp.body = std::move(*bytes);
  return resp;
}

http::ServerResponse RegistryApi::LayerBlob(const http::ServerRequest& r, const BlobLocation& loc,
                                            const oci::Digest& d) {
  const uint64_t size = static_cast<uint64_t>(loc.size);
  auto range = ParseRange(r.Header("Range"), size);
  if (!range.ok()) {
    auto e = DistributionError(416, "RANGE_INVALID", range.status().message());
    e.headers.push_back({"Content-Range", fmt::format("bytes */{}", size)});
    return e;
  }
  http::ServerResponse resp;
  resp.status = 200;
  resp.content_type = "application/octet-stream";
  resp.headers.push_back({"Docker-Content-Digest", d.ToString()});
  resp.headers.push_back({"ETag", "\"" + d.ToString() + "\""});
  resp.headers.push_back({"Accept-Ranges", "bytes"});
  uint64_t start = 0, length = size;
  if (*range) {
    start = (*range)->start;
    length = (*range)->length;
    resp.status = 206;
    resp.headers.push_back(
        {"Content-Range", fmt::format("bytes {}-{}/{}", start, start + length - 1, size)});
    // Exactly one piece: its hash from the verified list, as a spooled piece carries it (swarm.h).
    PieceGeometry g{size, options_.piece_size};
    const uint64_t i = g.index_of(start);
    if (start == g.start(i) && length == g.length(i)) {
      auto list = layers_.Pieces(loc.tree, loc.layer, loc.record, options_.piece_size);
      if (list.ok()) {
        resp.headers.push_back({std::string(kPieceDigestHeader), list->pieces[i].ToString()});
      }
    }
  }
  resp.stream_length = static_cast<int64_t>(length);
  if (r.method == "HEAD" || length == 0) {
    resp.stream = [](http::StreamSink&) {};
    return resp;
  }
  const bool whole = !*range;
  resp.stream = [this, loc, d, start, length, whole](http::StreamSink& sink) {
    uint64_t sent = 0;
    Sink out = [&](std::string_view b) -> Status {
      if (!sink.Write(b)) return Cancelled("client gone");
      sent += b.size();
      return Status();
    };
    Status s = whole ? layers_.ReadWhole(loc.tree, loc.layer, loc.record, out)
                     : layers_.ReadRange(loc.tree, loc.layer, loc.record, start, length,
                                         options_.piece_size, out);
    bytes_ += sent;
    if (!s.ok() && s.code() != Code::kCancelled) {
      ++cut_;
      Log(fmt::format("serve {} bytes {}+{}: {} (cut after {} bytes)", d.ToString(), start, length,
                      s.message(), sent));
    }
  };
  return resp;
}

std::string RegistryApi::Metrics() const {
  PrometheusText p;
  p.Header("modelcar_mirror_requests_total", "counter", "");
  p.Sample("modelcar_mirror_requests_total", PrometheusText::Label("result", "hit"), hits_.load());
  p.Sample("modelcar_mirror_requests_total", PrometheusText::Label("result", "miss"),
           misses_.load());
  p.Sample("modelcar_mirror_requests_total", PrometheusText::Label("result", "bad"),
           bad_requests_.load());
  p.Header("modelcar_mirror_pieces_pending_total", "counter", "");
  p.Sample("modelcar_mirror_pieces_pending_total", "", pending_.load());
  p.Header("modelcar_mirror_bytes_total", "counter", "");
  p.Sample("modelcar_mirror_bytes_total", "", bytes_.load());
  p.Header("modelcar_mirror_verify_failures_total", "counter", "");
  p.Sample("modelcar_mirror_verify_failures_total", "", cut_.load());
  return p.Take();
}

}  // namespace modelcar::peer
