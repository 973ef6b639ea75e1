#include "store/gc.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>

#include "base/file.h"
#include "base/human_bytes.h"
#include "store/lock.h"
#include "tar/extract.h"

namespace modelcar::store {

uint64_t BytesToFree(uint64_t store_bytes, const FsUsage& fs, const GcPolicy& p) {
  uint64_t need = 0;
  if (p.max_size && store_bytes > *p.max_size) need = store_bytes - *p.max_size;
  if (p.watermarks && fs.total > 0) {
    uint64_t used = fs.total - std::min(fs.free, fs.total);
    double used_pct = 100.0 * static_cast<double>(used) / static_cast<double>(fs.total);
    if (used_pct > p.high_percent) {
      auto target =
          static_cast<uint64_t>(std::floor(static_cast<double>(fs.total) * p.low_percent / 100.0));
      if (used > target) need = std::max(need, used - target);
    }
  }
  return need;
}

std::vector<oci::Digest> PlanEviction(std::vector<GcCandidate> c, uint64_t need) {
  std::vector<oci::Digest> out;
  if (need == 0) return out;
  std::sort(c.begin(), c.end(), [](const GcCandidate& a, const GcCandidate& b) {
    if (a.last_use != b.last_use) return a.last_use < b.last_use;
    return a.digest < b.digest;
  });
  uint64_t freed = 0;
  for (const GcCandidate& x : c) {
    if (freed >= need) break;
    if (x.leased) continue;
    out.push_back(x.digest);
    freed += x.bytes;
  }
  return out;
}

Result<FsUsage> FilesystemUsage(const std::string& path) {
  struct statvfs s;
  if (::statvfs(path.c_str(), &s) != 0) return ErrnoStatus(errno, "statvfs " + path);
  return FsUsage{static_cast<uint64_t>(s.f_blocks) * s.f_frsize,
                 static_cast<uint64_t>(s.f_bavail) * s.f_frsize};
}

Result<uint64_t> ParseByteSize(std::string_view s) {
  std::string t(s);
  for (const char* suf : {"iB", "B", "i"}) {
    if (t.size() > std::strlen(suf) && t.ends_with(suf)) {
      t.resize(t.size() - std::strlen(suf));
      break;
    }
  }
  double mult = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 'K':
      case 'k':
        mult = 1024.0;
        break;
      case 'M':
      case 'm':
        mult = 1024.0 * 1024;
        break;
      case 'G':
      case 'g':
        mult = 1024.0 * 1024 * 1024;
        break;
      case 'T':
      case 't':
        mult = 1024.0 * 1024 * 1024 * 1024;
        break;
      default:
        break;
    }
    if (mult != 1) t.pop_back();
  }
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || v < 0 || !std::isfinite(v)) {
    return InvalidArgument("bad size \"" + std::string(s) + "\" (examples: 500M, 20G)");
  }
  return static_cast<uint64_t>(v * mult);
}

std::string FormatBytes(uint64_t n) { return HumanBytes(static_cast<double>(n), ByteUnits::kIec); }

namespace {

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
  }
  return out;
}

// Removes `m` if nothing uses it; true when removed.
Result<bool> TryRemove(Store& store, const oci::Digest& m, GcReport* report) {
  auto lock = FileLock::TryAcquire(store.LockPath(m), FileLock::Mode::kExclusive);
  if (!lock.ok()) {
    report->skipped_busy.push_back(m);
    return false;
  }
  ASSIGN_OR_RETURN(auto leases, store.LiveLeases(m, /*prune_stale=*/true));
  if (!leases.empty()) return false;
  uint64_t bytes = DiskUsage(store.TreeDir(m));
  RETURN_IF_ERROR(store.RemoveTree(m));
  report->removed.push_back(m);
  report->freed_bytes += bytes;
  return true;
}

void CleanTrashAndIngest(Store& store, const GcPolicy& policy) {
  if (auto t = OpenFile(store.root() + "/trash", O_RDONLY | O_DIRECTORY); t.ok()) {
    for (const std::string& n : Entries(store.root() + "/trash"))
      (void)tar::RemoveTreeAt(t->get(), n);
  }
  auto in = OpenFile(store.root() + "/ingest", O_RDONLY | O_DIRECTORY);
  if (!in.ok()) return;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const std::string& n : Entries(store.root() + "/ingest")) {
    auto d = oci::Digest::FromHex(n);
    struct stat st;
    if (::stat((store.root() + "/ingest/" + n).c_str(), &st) != 0) continue;
    if (now - st.st_mtime < policy.ingest_max_age_s) continue;
    if (!d.ok()) continue;
    auto lock = FileLock::TryAcquire(store.LockPath(*d), FileLock::Mode::kExclusive);
    if (lock.ok()) (void)tar::RemoveTreeAt(in->get(), n);
  }
}

}  // namespace

Result<GcReport> RunGc(Store& store, const GcPolicy& policy, uint64_t extra_need) {
  ASSIGN_OR_RETURN(FileLock gc_lock,
                   FileLock::Acquire(store.root() + "/locks/gc.lock", FileLock::Mode::kExclusive));
  GcReport report;
  CleanTrashAndIngest(store, policy);
  ASSIGN_OR_RETURN(auto trees, store.ListTrees());
  ASSIGN_OR_RETURN(auto refs, store.ListRefs());
  std::set<oci::Digest> referenced;
  for (const RefRecord& r : refs) referenced.insert(r.digest);

  std::vector<GcCandidate> candidates;
  uint64_t store_bytes = 0;
  for (const oci::Digest& m : trees) {
    ASSIGN_OR_RETURN(auto leases, store.LiveLeases(m));
    if (policy.remove_unreferenced && !referenced.count(m) && leases.empty()) {
      ASSIGN_OR_RETURN(bool removed, TryRemove(store, m, &report));
      if (removed) continue;
    }
    GcCandidate c{m, DiskUsage(store.TreeDir(m)), store.LastUse(m), !leases.empty()};
    store_bytes += c.bytes;
    candidates.push_back(c);
  }
  ASSIGN_OR_RETURN(FsUsage fs, FilesystemUsage(store.root()));
  uint64_t need = BytesToFree(store_bytes, fs, policy);
  if (extra_need > fs.free) need = std::max(need, extra_need - fs.free);
  uint64_t freed_before = report.freed_bytes;
  for (const oci::Digest& m : PlanEviction(candidates, need)) {
    if (report.freed_bytes - freed_before >= need) break;
    ASSIGN_OR_RETURN(bool removed, TryRemove(store, m, &report));
    (void)removed;
  }
  return report;
}

Status EnsureSpace(Store& store, uint64_t need) {
  ASSIGN_OR_RETURN(FsUsage fs, FilesystemUsage(store.root()));
  if (fs.free >= need) return Status();
  GcPolicy policy;
  policy.watermarks = false;
  policy.remove_unreferenced = false;
  ASSIGN_OR_RETURN(GcReport report, RunGc(store, policy, need));
  ASSIGN_OR_RETURN(fs, FilesystemUsage(store.root()));
  if (fs.free >= need) return Status();
  return ResourceExhausted(
      fmt::format("not enough disk space in the store {}: the image needs {} bytes, {} bytes are "
                  "free (evicted {} unused images, nothing else may be removed)",
                  store.root(), need, fs.free, report.removed.size()));
}

}  // namespace modelcar::store
