#include "peer/swarm.h"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <future>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "http/url.h"

namespace modelcar::peer {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Swarm::Swarm(SwarmOptions options, RegistryRange registry)
    : options_(std::move(options)), registry_(std::move(registry)) {
  http::ClientOptions co;
  co.connect_timeout_s = options_.connect_timeout_s;
  co.low_speed_time_s = 10;
  co.use_env_proxy = false;  // peers are in the cluster
  client_ = std::make_unique<http::Client>(co);
}

Swarm::~Swarm() { Finish(false); }

void Swarm::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

Status Swarm::Start(const std::string& repo, const std::vector<oci::Descriptor>& layers) {
  repo_ = repo;
  parts_ = {{options_.self_id, ""}};
  RemoveStaleSpools(options_.store_root, kSpoolIdleSeconds);
  std::set<std::string> seen = {options_.self_id};
  for (const std::string& url : options_.peers) {
    http::Request req;
    req.url = url + std::string(kNodePath);
    req.max_body = 4096;
    Result<http::Response> r = client_->Do(req);
    if (!r.ok() || r->status != 200) {
      Log("peer " + http::RedactUrl(url) +
          " not ready: " + (r.ok() ? fmt::format("HTTP {}", r->status) : r.status().message()));
      continue;
    }
    auto j = ParseJsonLimited(r->body, "peer node");
    std::string id;
    uint64_t piece_size = 0;
    if (j.ok()) {
      try {
        id = j->at("id").get<std::string>();
        piece_size = j->at("pieceSize").get<uint64_t>();
      } catch (const std::exception&) {
      }
    }
    if (id.empty() || piece_size != options_.piece_size) {
      Log("peer " + http::RedactUrl(url) + " skipped: no id or another piece size");
      continue;
    }
    if (!seen.insert(id).second) continue;  // this node's own serve, or a peer listed twice
    parts_.push_back({id, url});
  }
  std::vector<std::string> urls = peer_urls();
  PeerSourceOptions po;
  po.peers = urls;
  PeerSource committed(po);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.participants = parts_.size();
  if (parts_.size() < 2) return Status();  // alone: the registry, as without peers
  for (const oci::Descriptor& d : layers) {
    if (d.size <= 0 || layers_.count(d.digest)) continue;
    if (committed.List(d).ok()) continue;  // a peer holds it verified: PeerSource
    auto l = std::make_unique<Layer>();
    l->desc = d;
    l->g = PieceGeometry{static_cast<uint64_t>(d.size), options_.piece_size};
    l->state.assign(l->g.count(), PieceState::kNone);
    std::vector<std::string> ids;
    for (const Participant& p : parts_) ids.push_back(p.id);
    for (uint64_t i = 0; i < l->g.count(); ++i)
      l->order.push_back(RendezvousOrder(ids, d.digest, i));
    auto spool = SpoolWriter::Open(options_.store_root, d.digest, l->g);
    if (spool.ok()) {
      l->spool = std::move(*spool);
    } else {
      Log("spool of " + d.digest.ToString() + ": " + spool.status().message() +
          " (this node owns none of its pieces)");
      l->excluded.insert(0);
    }
    order_.push_back(d.digest);
    layers_[d.digest] = std::move(l);
  }
  WriteClaimsLocked();
  for (int i = 0; i < std::max(1, options_.fetchers); ++i) {
    fetchers_.emplace_back([this] { FetchLoop(); });
  }
  return Status();
}

std::vector<std::string> Swarm::peer_urls() const {
  std::vector<std::string> out;
  for (const Participant& p : parts_) {
    if (!p.url.empty()) out.push_back(p.url);
  }
  return out;
}

bool Swarm::Covers(const oci::Digest& d) const {
  std::lock_guard<std::mutex> lock(mu_);
  return layers_.count(d) > 0;
}

size_t Swarm::OwnerLocked(const Layer& l, uint64_t i) const {
  for (size_t p : l.order[l.whole ? 0 : i]) {
    if (!dropped_.count(p) && !l.excluded.count(p)) return p;  // 0 (this node) only by its spool
  }
  return 0;
}

void Swarm::WriteClaimsLocked() {
  if (claimed_version_ == version_) return;
  claimed_version_ = version_;
  for (const oci::Digest& dg : order_) {
    Layer& l = *layers_[dg];
    if (!l.spool) continue;
    std::vector<bool> claims(l.g.count(), false);
    for (uint64_t i = 0; i < claims.size(); ++i) {
      claims[i] = !l.failed && l.state[i] != PieceState::kFailed && OwnerLocked(l, i) == 0;
    }
    Status s = l.spool->Claim(claims);
    if (!s.ok()) Log("spool claims: " + s.message());
  }
}

void Swarm::DropLocked(size_t p, const std::string& why) {
  if (!dropped_.insert(p).second) return;
  ++version_;
  cv_.notify_all();
  Log("peer " + http::RedactUrl(parts_[p].url) + " dropped: " + why);
}

void Swarm::FetchLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    WriteClaimsLocked();
    Layer* pick = nullptr;
    uint64_t index = 0;
    for (const oci::Digest& dg : order_) {
      Layer& l = *layers_[dg];
      if (!l.spool || l.failed || l.whole_running) continue;
      for (uint64_t i = 0; i < l.state.size() && !pick; ++i) {
        if (l.state[i] == PieceState::kNone && OwnerLocked(l, i) == 0) {
          pick = &l;
          index = i;
        }
      }
      if (pick) break;
    }
    if (!pick) {
      cv_.wait(lock);
      continue;
    }
    Layer& l = *pick;
    // One piece with a Range; without Range, this node owns the whole blob and streams the rest
    // of it in one answer, publishing each piece as it completes.
    uint64_t last = index;
    const bool whole = l.whole;
    if (whole) {  // from the first piece not done (one a Range attempt still holds included)
      l.whole_running = true;
      index = 0;
      while (l.state[index] == PieceState::kDone) ++index;  // pick: some piece is kNone
      last = l.state.size() - 1;
    }
    for (uint64_t j = index; j <= last; ++j) {
      if (l.state[j] != PieceState::kDone) l.state[j] = PieceState::kFetching;
    }
    lock.unlock();
    Status s = FetchRun(l, index, last, /*exact=*/!whole);
    lock.lock();
    if (whole) l.whole_running = false;
    for (uint64_t j = index; j <= last; ++j) {
      if (l.state[j] == PieceState::kFetching) l.state[j] = PieceState::kNone;
    }
    if (!s.ok() && s.code() == Code::kUnimplemented && !whole) {
      if (!l.whole) {  // (another fetcher, or a peer's answer, may have found it first)
        Log("the registry ignores Range: one owner for all of " + l.desc.digest.ToString());
        l.whole = true;
        (void)l.spool->MarkNoRange();
      }
      ++version_;
    } else if (!s.ok()) {
      Log(fmt::format("piece {} of {} from the registry: {}", index, l.desc.digest.ToString(),
                      s.message()));
      for (uint64_t j = index; j <= last; ++j) {
        if (l.state[j] == PieceState::kNone) l.state[j] = PieceState::kFailed;
      }
      l.failed = true;  // peers stop waiting for this node's pieces; the caller uses the registry
      ++version_;
    }
    cv_.notify_all();
  }
}

Status Swarm::FetchRun(Layer& l, uint64_t first, uint64_t last, bool exact) {
  const uint64_t start = l.g.start(first), end = l.g.start(last) + l.g.length(last);
  uint64_t pos = start, index = first;
  std::string buf;
  buf.reserve(l.g.length(first));
  Status s = registry_(l.desc, start, end - start, exact, [&](std::string_view b) -> Status {
    if (pos + b.size() > end) return DataLoss("the registry sent more than asked");
    while (!b.empty()) {
      const uint64_t want = l.g.length(index) - buf.size();
      const size_t n = static_cast<size_t>(std::min<uint64_t>(want, b.size()));
      buf.append(b.substr(0, n));
      b.remove_prefix(n);
      pos += n;
      if (buf.size() < l.g.length(index)) break;
      bool publish;
      {
        std::lock_guard<std::mutex> lock(mu_);
        publish = l.state[index] != PieceState::kDone;
        if (stop_) return Cancelled("stopping");
      }
      if (publish) RETURN_IF_ERROR(l.spool->Put(index, buf, oci::Sha256Of(buf)));
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (publish) {
          l.state[index] = PieceState::kDone;
          stats_.registry_bytes += buf.size();
        }
        cv_.notify_all();
      }
      buf.clear();
      ++index;
    }
    return Status();
  });
  if (s.ok() && pos != end) s = DataLoss("the registry sent fewer bytes than asked");
  return s;
}

Swarm::Answer Swarm::AskPeer(const std::string& repo, const Participant& p, const Layer& l,
                             uint64_t i, std::string* bytes, int64_t* progress, std::string* why,
                             bool* no_range) {
  const uint64_t start = l.g.start(i), length = l.g.length(i);
  http::Request req;
  req.url = p.url + "/v2/" + repo + "/blobs/" + l.desc.digest.ToString();
  req.headers = {{"Range", fmt::format("bytes={}-{}", start, start + length - 1)}};
  req.max_body = length;
  Result<http::Response> r = client_->Do(req);
  if (!r.ok()) {
    if (r.status().code() == Code::kCancelled) return Answer::kBad;
    *why = r.status().message();
    return Answer::kBad;
  }
  if (r->Header(kNoRangeHeader)) *no_range = true;
  if (r->status == 503) {
    auto pr = r->Header(kSpoolProgressHeader);
    *progress = 0;
    if (pr) {
      try {
        *progress = std::stoll(*pr);
      } catch (const std::exception&) {
      }
    }
    return Answer::kPending;
  }
  if (r->status == 404) return Answer::kAbsent;
  if (r->status != 206) {
    *why = fmt::format("answered HTTP {} to a piece", r->status);
    return Answer::kBad;
  }
  auto want = r->Header(kPieceDigestHeader);
  auto digest = want ? oci::Digest::Parse(*want) : Result<oci::Digest>(DataLoss("no digest"));
  if (!digest.ok()) {
    *why = fmt::format("piece {} of {} came without {}", i, l.desc.digest.ToString(),
                       kPieceDigestHeader);
    return Answer::kBad;
  }
  if (r->body.size() != length || oci::Sha256Of(r->body) != *digest) {
    *why = fmt::format("piece {} of {} does not match its hash", i, l.desc.digest.ToString());
    return Answer::kBad;
  }
  *bytes = std::move(r->body);
  return Answer::kPiece;
}

Result<std::string> Swarm::TakePiece(const std::string& repo, Layer& l, uint64_t i,
                                     const std::atomic<bool>& abandoned) {
  std::unique_lock<std::mutex> lock(mu_);
  long wait_ms = options_.poll_ms;  // doubles while the owner keeps answering "not yet"
  while (true) {
    if (stop_ || abandoned) return Cancelled("stopping");
    if (l.failed && (l.state[i] != PieceState::kDone)) {
      return Unavailable("the swarm gave up on " + l.desc.digest.ToString());
    }
    const size_t owner = OwnerLocked(l, i);
    if (owner == 0) {
      if (l.state[i] == PieceState::kDone) {
        lock.unlock();
        Result<std::string> b = l.spool->Get(i);
        if (b.ok()) return b;
        lock.lock();
        Log(b.status().message());
        l.state[i] = PieceState::kFailed;
        l.failed = true;
        ++version_;
        cv_.notify_all();
        continue;
      }
      if (l.state[i] == PieceState::kFailed || !l.spool) {
        return Unavailable(fmt::format("piece {} of {}: no source", i, l.desc.digest.ToString()));
      }
      cv_.wait_for(lock, std::chrono::milliseconds(500));
      continue;
    }
    const Participant part = parts_[owner];
    lock.unlock();
    std::string bytes, why;
    int64_t progress = 0;
    bool no_range = false;
    Answer a = AskPeer(repo, part, l, i, &bytes, &progress, &why, &no_range);
    lock.lock();
    if (no_range && !l.whole) {  // the owner found that the registry ignores Range
      l.whole = true;
      if (l.spool) (void)l.spool->MarkNoRange();
      ++version_;
      cv_.notify_all();
      if (a != Answer::kPiece) continue;
    }
    const auto now = Clock::now();
    switch (a) {
      case Answer::kPiece:
        stats_.peer_bytes += bytes.size();
        return bytes;
      case Answer::kBad:
        if (why.find("does not match") != std::string::npos) ++stats_.rejected;
        DropLocked(owner, why.empty() ? "failed" : why);
        continue;
      case Answer::kPending: {
        auto it = progress_.find(owner);
        if (it == progress_.end() || it->second.first != progress) {
          progress_[owner] = {progress, now};
        } else if (now - it->second.second > std::chrono::seconds(options_.stall_s)) {
          DropLocked(owner, fmt::format("no piece for {} s", options_.stall_s));
          continue;
        }
        break;
      }
      case Answer::kAbsent: {
        // The grace runs from this owner's first "absent" for this piece, not from Start(): an
        // owner that took the piece over after a drop (a lying peer's) answers 404 until it
        // drops that peer too, however long the pull has been running.
        auto first = l.absent_since.try_emplace({owner, i}, now).first->second;
        if (now - first > std::chrono::milliseconds(options_.join_grace_ms)) {
          if (l.excluded.insert(owner).second) {
            Log(fmt::format("excluded {} for {}: piece {} absent there for {} ms",
                            parts_[owner].url, l.desc.digest.ToString(), i,
                            options_.join_grace_ms));
            ++version_;
            cv_.notify_all();
          }
          continue;
        }
        break;
      }
    }
    // Asked again after the wait; only a stop or an abandon ends it early (other wake-ups are
    // for the fetchers and would only make more requests).
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms),
                 [&] { return stop_ || abandoned.load(); });
    wait_ms = std::min(wait_ms * 2, 3 * options_.poll_ms);
  }
}

Status Swarm::Stream(const std::string& repo, const oci::Descriptor& d, uint64_t offset,
                     const Sink& sink, uint64_t* delivered) {
  *delivered = 0;
  Layer* l = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = layers_.find(d.digest);
    if (it == layers_.end()) return NotFound(d.digest.ToString() + " is not a swarm layer");
    l = it->second.get();
  }
  const PieceGeometry& g = l->g;
  if (offset >= g.blob_size) return Status();
  const uint64_t first = g.index_of(offset), count = g.count();
  // Pieces still in flight when this returns early are abandoned (their waits end at once); the
  // futures finish before they are destroyed, so `abandoned` outlives them.
  std::atomic<bool> abandoned{false};
  std::deque<std::future<Result<std::string>>> inflight;
  struct Abandon {
    std::atomic<bool>& flag;
    std::condition_variable& cv;
    ~Abandon() {
      flag = true;
      cv.notify_all();
    }
  };
  uint64_t next = first;
  Abandon on_return{abandoned, cv_};  // destroyed before `inflight`: wakes the waiting pieces
  for (uint64_t i = first; i < count; ++i) {
    while (next < count && inflight.size() < static_cast<size_t>(std::max(1, options_.window))) {
      inflight.push_back(std::async(std::launch::async, [this, &repo, l, n = next, &abandoned] {
        return TakePiece(repo, *l, n, abandoned);
      }));
      ++next;
    }
    Result<std::string> piece = inflight.front().get();
    inflight.pop_front();
    if (!piece.ok()) return piece.status();
    std::string_view bytes(*piece);
    if (i == first) bytes.remove_prefix(offset - g.start(i));
    RETURN_IF_ERROR(sink(bytes));
    *delivered += bytes.size();
  }
  return Status();
}

void Swarm::Finish(bool keep) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    stop_ = true;
    cv_.notify_all();
  }
  for (std::thread& t : fetchers_) t.join();
  fetchers_.clear();
  for (auto& [d, l] : layers_) {
    if (!l->spool) continue;
    l->spool->Release();
    // A spool no peer read is of no use to anyone; one that peers read stays for the stragglers
    // (pieces only, no more pending ones) until RemoveStaleSpools finds it idle.
    if (!keep || l->spool->LastServedNs() == 0) l->spool->Remove();
  }
}

SwarmStats Swarm::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace modelcar::peer
