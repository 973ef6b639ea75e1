#include "node/cache_agent.h"

#include <sys/stat.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file.h"
#include "base/json.h"
#include "base/prometheus.h"
#include "store/lock.h"
#include "store/verify.h"

namespace modelcar {
namespace {

using nlohmann::json;

constexpr std::string_view kPinPrefix = "pin:cache-agent:";

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string(s);
}

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

Result<CacheAgentConfig> ParseCacheAgentConfig(std::string_view text, const std::string& path) {
  CacheAgentConfig c;
  std::string t = Trim(text);
  if (!t.empty() && t.front() == '{') {
    ASSIGN_OR_RETURN(json j, ParseJsonLimited(t, path));
    try {
      if (!j.contains("refs") || !j["refs"].is_array()) {
        return InvalidArgument(path + ": \"refs\" must be an array of image references");
      }
      for (const json& r : j["refs"]) {
        if (!r.is_string()) return InvalidArgument(path + ": refs: every entry must be a string");
        c.refs.push_back(r.get<std::string>());
      }
      if (j.contains("verifyIntervalSeconds")) {
        c.verify_interval_s = j["verifyIntervalSeconds"].get<int64_t>();
      }
    } catch (const std::exception& e) {
      return InvalidArgument(path + ": " + PrintableAscii(e.what()));
    }
  } else {
    size_t i = 0;
    while (i < text.size()) {
      size_t j = text.find('\n', i);
      if (j == std::string_view::npos) j = text.size();
      std::string_view line = text.substr(i, j - i);
      if (size_t h = line.find('#'); h != std::string_view::npos) line = line.substr(0, h);
      std::string ref = Trim(line);
      if (!ref.empty()) c.refs.push_back(ref);
      i = j + 1;
    }
  }
  for (const std::string& r : c.refs) {
    auto parsed = oci::Reference::Parse(r);
    if (!parsed.ok()) return InvalidArgument(path + ": " + parsed.status().message());
  }
  return c;
}

Status CacheAgent::RunOnce() {
  struct stat st;
  if (::stat(options_.config_path.c_str(), &st) != 0) {
    return ErrnoStatus(errno, "cache-agent config " + options_.config_path);
  }
  int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime != config_mtime_ns_) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(options_.config_path, 1 << 20));
    ASSIGN_OR_RETURN(config_, ParseCacheAgentConfig(text, options_.config_path));
    config_mtime_ns_ = mtime;
  }
  StorePullOptions pull = options_.pull;
  peer::PeerSnapshot peers;
  if (options_.find_peers) {
    peers = options_.find_peers();
    pull.peers = peers.peers;
    pull.near_peers = peers.near;
  } else {
    peers.peers = pull.peers;
    peers.known = true;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!peers.error.empty()) ++peer_read_failures_;
    peers_ = std::move(peers);
  }
  Status s = Reconcile(config_, pull);
  Publish();
  return s;
}

Status CacheAgent::Reconcile(const CacheAgentConfig& config, const StorePullOptions& pull) {
  ASSIGN_OR_RETURN(store::Store st, store::Store::Open(pull.store_dir));
  std::set<std::string> wanted(config.refs.begin(), config.refs.end());
  // Unpin refs that left the config: pins live in the store, so this works across restarts.
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = status_.begin(); it != status_.end();) {
      it = wanted.count(it->first) ? std::next(it) : status_.erase(it);
    }
  }
  ASSIGN_OR_RETURN(auto trees, st.ListTrees());
  for (const oci::Digest& m : trees) {
    ASSIGN_OR_RETURN(auto holders, st.LiveLeases(m));
    for (const std::string& h : holders) {
      if (h.starts_with(kPinPrefix) && !wanted.count(h.substr(kPinPrefix.size()))) {
        RETURN_IF_ERROR(st.RemoveLease(m, h));
      }
    }
  }
  for (const std::string& ref : config.refs) {
    RefStatus cur;
    {
      std::lock_guard<std::mutex> l(mu_);
      cur = status_[ref];
      if (cur.state != "present") status_[ref].state = "pulling";
    }
    auto pulled = PullToStore(ref, pull);
    if (!pulled.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      ++pull_failures_;
      status_[ref].state = "failed";
      status_[ref].error = pulled.status().ToString();
      continue;
    }
    const oci::Digest& m = pulled->manifest;
    if (pulled->network_used) {
      cur.fetched_bytes = pulled->fetched_bytes;
      cur.peer_bytes = pulled->peer_bytes;
      std::lock_guard<std::mutex> l(mu_);
      fetched_bytes_ += pulled->fetched_bytes;
      peer_bytes_ += pulled->peer_bytes;
    }
    Status lease = st.AddLease(m, std::string(kPinPrefix) + ref);
    cur.digest = m.ToString();
    cur.error.clear();
    if (auto info = st.ReadTree(m); info.ok()) cur.bytes = info->bytes;
    if (!lease.ok()) {
      cur.state = "failed";
      cur.error = lease.ToString();
    } else if (Now() - cur.last_verify >= config.verify_interval_s || pulled->network_used) {
      auto lock = store::FileLock::Acquire(st.LockPath(m), store::FileLock::Mode::kShared);
      auto report = store::VerifyTree(st, m);
      if (!report.ok()) {
        cur.state = "failed";
        cur.error = report.status().ToString();
      } else if (!report->ok()) {
        cur.state = "failed";  // marked corrupt: the next reconcile pulls it again
        cur.error = "corrupt: " + report->problems[0];
      } else {
        cur.state = "present";
        cur.last_verify = Now();
      }
    } else {
      cur.state = "present";
    }
    std::lock_guard<std::mutex> l(mu_);
    status_[ref] = cur;
  }
  return Status();
}

void CacheAgent::Publish() {
  std::string text;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++reconciles_;
  }
  text = StatusJson();
  if (!options_.status_path.empty()) (void)WriteFileAtomic(options_.status_path, text);
}

std::string CacheAgent::StatusJson() const {
  std::lock_guard<std::mutex> l(mu_);
  json refs = json::array();
  for (const auto& [ref, s] : status_) {
    refs.push_back({{"ref", ref},
                    {"state", s.state},
                    {"digest", s.digest},
                    {"bytes", s.bytes},
                    {"lastVerify", s.last_verify},
                    {"error", s.error},
                    {"fetchedBytes", s.fetched_bytes},
                    {"peerBytes", s.peer_bytes}});
  }
  json peers = {{"count", peers_.peers.size()}, {"near", peers_.near},   {"zone", peers_.zone},
                {"urls", peers_.peers},         {"known", peers_.known}, {"error", peers_.error}};
  return json({{"reconciles", reconciles_}, {"refs", refs}, {"peers", peers}}).dump(2) + "\n";
}

std::string CacheAgent::Metrics() const {
  std::lock_guard<std::mutex> l(mu_);
  PrometheusText p;
  p.Header("modelcar_cache_refs", "gauge", "Refs of the cache agent by state.");
  std::map<std::string, int> by_state = {{"present", 0}, {"pulling", 0}, {"failed", 0}};
  uint64_t bytes = 0;
  for (const auto& [ref, s] : status_) {
    ++by_state[s.state];
    if (s.state == "present") bytes += s.bytes;
  }
  for (const auto& [state, n] : by_state) {
    p.Sample("modelcar_cache_refs", PrometheusText::Label("state", state), n);
  }
  p.Header("modelcar_cache_bytes", "gauge", "Bytes of the present refs' trees.");
  p.Sample("modelcar_cache_bytes", "", bytes);
  p.Header("modelcar_cache_reconciles_total", "counter", "Reconcile passes.");
  p.Sample("modelcar_cache_reconciles_total", "", reconciles_);
  p.Header("modelcar_cache_pull_failures_total", "counter", "Failed pulls.");
  p.Sample("modelcar_cache_pull_failures_total", "", pull_failures_);
  p.Header("modelcar_cache_fetched_bytes_total", "counter", "Bytes the pulls fetched.");
  p.Sample("modelcar_cache_fetched_bytes_total", "", fetched_bytes_);
  p.Header("modelcar_cache_peer_bytes_total", "counter",
           "Of the fetched bytes, those that came from peers.");
  p.Sample("modelcar_cache_peer_bytes_total", "", peer_bytes_);
  p.Header("modelcar_cache_peers", "gauge",
           "Peers in force for the pulls (--peers or --peer-service).");
  p.Sample("modelcar_cache_peers", "", peers_.peers.size());
  p.Header("modelcar_cache_peer_read_failures_total", "counter",
           "Reconciles whose read of the peer Service's EndpointSlices failed.");
  p.Sample("modelcar_cache_peer_read_failures_total", "", peer_read_failures_);
  return p.Take();
}

uint64_t CacheAgent::reconciles() const {
  std::lock_guard<std::mutex> l(mu_);
  return reconciles_;
}

}  // namespace modelcar
