#include "store/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

#include "base/crashpoint.h"
#include "base/file.h"
#include "base/json.h"
#include "store/tree_walk.h"
#include "tar/extract.h"
#include "tar/extract_rebuild.h"

namespace modelcar::store {
namespace {

using nlohmann::json;

Result<json> ReadJson(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 16 << 20));
  try {
    return json::parse(text);
  } catch (const std::exception& e) {
    return DataLoss(path + ": malformed JSON: " + PrintableAscii(e.what()));
  }
}

Result<oci::Digest> DigestField(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) {
    return DataLoss(where + ": missing \"" + key + "\"");
  }
  auto d = oci::Digest::Parse(j[key].get<std::string>());
  if (!d.ok()) return DataLoss(where + ": " + key + ": " + d.status().message());
  return *d;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(rng() % 1000000000);
}

}  // namespace

std::string Store::DefaultRoot() {
  if (const char* s = std::getenv("MODELCAR_STORE"); s && *s) return s;
  if (::geteuid() == 0) return "/var/lib/modelcar";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/modelcar";
}

Result<Store> Store::Open(const std::string& root_in) {
  std::string root = root_in.empty() ? DefaultRoot() : root_in;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  for (const char* sub :
       {"blobs/sha256", "ingest", "trees/sha256", "refs", "leases", "locks", "trash"}) {
    Status s = MakeDirs(root + "/" + sub, 0755);
    if (!s.ok()) return s.WithContext("store " + root);
  }
  return Store(root);
}

std::string Store::TreeDir(const oci::Digest& m) const {
  return root_ + "/trees/sha256/" + m.hex();
}
std::string Store::RootfsDir(const oci::Digest& m) const { return TreeDir(m) + "/rootfs"; }

std::vector<std::string> Store::LayerDataDirs(const oci::Digest& m, size_t index,
                                              size_t count) const {
  return tar::LayerDataDirs(RootfsDir(m), TreeDir(m) + "/shadow", index, count);
}
std::string Store::IngestDir(const oci::Digest& m) const { return root_ + "/ingest/" + m.hex(); }
std::string Store::LockPath(const oci::Digest& m) const {
  return root_ + "/locks/" + m.hex() + ".lock";
}
std::string Store::BlobPath(const oci::Digest& d) const {
  return root_ + "/blobs/sha256/" + d.hex();
}
std::string Store::LeaseDir(const oci::Digest& m) const { return root_ + "/leases/" + m.hex(); }

bool Store::HasTree(const oci::Digest& m) const {
  return ::access((TreeDir(m) + "/tree.json").c_str(), F_OK) == 0 && !IsCorrupt(m);
}

Result<std::string> Store::Id() const {
  const std::string path = root_ + "/id";
  auto text = ReadFile(path, 4096);
  if (!text.ok()) {
    // Written aside, then linked into place: link() never replaces, so concurrent first calls
    // agree on whichever id landed first.
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(rng()));
    std::string id = hex;
    std::string tmp = path + "." + RandomSuffix() + ".tmp";
    RETURN_IF_ERROR(WriteFileAtomic(tmp, id + "\n"));
    if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      int err = errno;
      ::unlink(tmp.c_str());
      return ErrnoStatus(err, "create " + path);
    }
    ::unlink(tmp.c_str());
    ASSIGN_OR_RETURN(text, ReadFile(path, 4096));
  }
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  if (id.empty() || id.size() > 64) return DataLoss(path + ": not a store id");
  return id;
}

bool Store::IsCorrupt(const oci::Digest& m) const {
  return ::access((TreeDir(m) + "/corrupt").c_str(), F_OK) == 0;
}

Result<TreeInfo> Store::ReadTree(const oci::Digest& m) const {
  std::string path = TreeDir(m) + "/tree.json";
  ASSIGN_OR_RETURN(json j, ReadJson(path));
  TreeInfo t;
  try {
    ASSIGN_OR_RETURN(t.manifest, DigestField(j, "manifest", path));
    ASSIGN_OR_RETURN(t.config, DigestField(j, "config", path));
    t.media_type = j.value("mediaType", "");
    t.bytes = j.value("bytes", uint64_t{0});
    t.created = j.value("created", int64_t{0});
    t.pulled_with_credentials = j.value("pulledWithCredentials", false);
    for (const json& l : j.at("layers")) {
      LayerRecord r;
      ASSIGN_OR_RETURN(r.digest, DigestField(l, "digest", path));
      ASSIGN_OR_RETURN(r.diff_id, DigestField(l, "diffID", path));
      r.media_type = l.value("mediaType", "");
      r.size = l.value("size", int64_t{0});
      r.unpacked_bytes = l.value("unpackedBytes", uint64_t{0});
      t.layers.push_back(std::move(r));
    }
  } catch (const std::exception& e) {
    return DataLoss(path + ": " + PrintableAscii(e.what()));
  }
  if (t.manifest != m) return DataLoss(path + ": names manifest " + t.manifest.ToString());
  return t;
}

Status Store::WriteTreeInfo(const std::string& dir, const TreeInfo& t) const {
  json layers = json::array();
  for (const LayerRecord& l : t.layers) {
    layers.push_back({{"digest", l.digest.ToString()},
                      {"diffID", l.diff_id.ToString()},
                      {"mediaType", l.media_type},
                      {"size", l.size},
                      {"unpackedBytes", l.unpacked_bytes}});
  }
  json j = {{"manifest", t.manifest.ToString()},
            {"config", t.config.ToString()},
            {"mediaType", t.media_type},
            {"bytes", t.bytes},
            {"created", t.created},
            {"layers", layers}};
  if (t.pulled_with_credentials) j["pulledWithCredentials"] = true;
  return WriteFileAtomic(dir + "/tree.json", j.dump(2) + "\n");
}

Result<std::vector<oci::Digest>> Store::ListTrees() const {
  std::vector<oci::Digest> out;
  for (const std::string& n : ListDir(root_ + "/trees/sha256")) {
    auto d = oci::Digest::FromHex(n);
    if (d.ok() && ::access((TreeDir(*d) + "/tree.json").c_str(), F_OK) == 0) out.push_back(*d);
  }
  return out;
}

Status Store::CommitTree(const oci::Digest& m) {
  std::string from = IngestDir(m), to = TreeDir(m);
  {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(from, O_RDONLY | O_DIRECTORY));
    if (::syncfs(fd.get()) != 0) return ErrnoStatus(errno, "syncfs " + from);
  }
  CrashPoint("store.commit-synced");
  if (IsCorrupt(m)) {
    // Replace a tree that verify found corrupt: move it aside first.
    std::string name = m.hex() + "-" + RandomSuffix();
    if (::rename(to.c_str(), (root_ + "/trash/" + name).c_str()) == 0) {
      CrashPoint("store.corrupt-trashed");
      ASSIGN_OR_RETURN(UniqueFd t, OpenFile(root_ + "/trash", O_RDONLY | O_DIRECTORY));
      (void)tar::RemoveTreeAt(t.get(), name);
    }
  }
  if (::rename(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) {
      // Someone committed the same image first: theirs is as good as ours.
      std::string name = m.hex() + "-" + RandomSuffix();
      if (::rename(from.c_str(), (root_ + "/trash/" + name).c_str()) == 0) {
        ASSIGN_OR_RETURN(UniqueFd t, OpenFile(root_ + "/trash", O_RDONLY | O_DIRECTORY));
        (void)tar::RemoveTreeAt(t.get(), name);
      }
      return Status();
    }
    return ErrnoStatus(errno, "commit " + from + " -> " + to);
  }
  CrashPoint("store.commit-renamed");
  RETURN_IF_ERROR(FsyncDir(root_ + "/trees/sha256"));
  return FsyncDir(root_ + "/ingest");
}

Status Store::RemoveTree(const oci::Digest& m) {
  std::string name = m.hex() + "-" + RandomSuffix();
  std::string trash = root_ + "/trash/" + name;
  if (::rename(TreeDir(m).c_str(), trash.c_str()) != 0) {
    if (errno == ENOENT) return NotFound("image " + m.ToString() + " is not in the store");
    return ErrnoStatus(errno, "remove " + TreeDir(m));
  }
  RETURN_IF_ERROR(FsyncDir(root_ + "/trees/sha256"));
  CrashPoint("gc.tree-trashed");
  ASSIGN_OR_RETURN(auto refs, ListRefs());
  for (const RefRecord& r : refs) {
    if (r.digest == m) {
      ::unlink((root_ + "/refs/" + oci::Sha256Of(r.name).hex() + ".json").c_str());
    }
  }
  ASSIGN_OR_RETURN(UniqueFd leases, OpenFile(root_ + "/leases", O_RDONLY | O_DIRECTORY));
  RETURN_IF_ERROR(tar::RemoveTreeAt(leases.get(), m.hex()));
  CrashPoint("gc.refs-removed");
  ASSIGN_OR_RETURN(UniqueFd t, OpenFile(root_ + "/trash", O_RDONLY | O_DIRECTORY));
  return tar::RemoveTreeAt(t.get(), name);
}

Status Store::PutBlob(std::string_view bytes, const oci::Digest& expected) {
  oci::Digest got = oci::Sha256Of(bytes);
  if (got != expected) {
    return DataLoss("blob " + expected.ToString() + ": content hashes to " + got.ToString());
  }
  std::string path = BlobPath(expected);
  if (::access(path.c_str(), F_OK) == 0) {
    auto existing = ReadBlob(expected);
    if (existing.ok()) return Status();  // already exists: success
  }
  return WriteFileAtomic(path, bytes, 0444);
}

Result<std::string> Store::ReadBlob(const oci::Digest& d) const {
  std::string path = BlobPath(d);
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, 64 << 20));
  if (oci::Sha256Of(bytes) != d) return DataLoss("store blob " + path + " is corrupt");
  return bytes;
}

Status Store::SetRef(const std::string& name, const oci::Digest& d) {
  json j = {{"name", name}, {"digest", d.ToString()}};
  return WriteFileAtomic(root_ + "/refs/" + oci::Sha256Of(name).hex() + ".json", j.dump() + "\n");
}

Result<std::optional<oci::Digest>> Store::GetRef(const std::string& name) const {
  std::string path = root_ + "/refs/" + oci::Sha256Of(name).hex() + ".json";
  if (::access(path.c_str(), F_OK) != 0) return std::optional<oci::Digest>();
  ASSIGN_OR_RETURN(json j, ReadJson(path));
  ASSIGN_OR_RETURN(oci::Digest d, DigestField(j, "digest", path));
  return std::optional<oci::Digest>(d);
}

Result<std::vector<RefRecord>> Store::ListRefs() const {
  std::vector<RefRecord> out;
  for (const std::string& n : ListDir(root_ + "/refs")) {
    if (!n.ends_with(".json")) continue;
    std::string path = root_ + "/refs/" + n;
    auto j = ReadJson(path);
    if (!j.ok() || !j->contains("name")) continue;
    auto d = DigestField(*j, "digest", path);
    if (!d.ok()) continue;
    out.push_back({(*j)["name"].get<std::string>(), *d});
  }
  return out;
}

Status Store::Touch(const oci::Digest& m) {
  std::string path = TreeDir(m) + "/last-use";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "touch " + path);
  ::futimens(fd, nullptr);
  ::close(fd);
  return Status();
}

int64_t Store::LastUse(const oci::Digest& m) const {
  struct stat st;
  if (::stat((TreeDir(m) + "/last-use").c_str(), &st) == 0) return st.st_mtime;
  if (::stat((TreeDir(m) + "/tree.json").c_str(), &st) == 0) return st.st_mtime;
  return 0;
}

Status Store::AddLease(const oci::Digest& m, const std::string& holder) {
  RETURN_IF_ERROR(MakeDirs(LeaseDir(m)));
  return WriteFileAtomic(LeaseDir(m) + "/" + oci::Sha256Of(holder).hex().substr(0, 24), holder);
}

Status Store::RemoveLease(const oci::Digest& m, const std::string& holder) {
  std::string path = LeaseDir(m) + "/" + oci::Sha256Of(holder).hex().substr(0, 24);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "unlink " + path);
  return Status();
}

Result<std::vector<std::string>> Store::LiveLeases(const oci::Digest& m, bool prune_stale) {
  std::vector<std::string> live;
  std::string rootfs = RootfsDir(m);
  for (const std::string& n : ListDir(LeaseDir(m))) {
    if (n.find(".tmp-") != std::string::npos) continue;
    std::string path = LeaseDir(m) + "/" + n;
    auto holder = ReadFile(path, 1 << 16);
    if (!holder.ok()) continue;
    if (holder->starts_with("pin:")) {
      live.push_back(*holder);
      continue;
    }
    char buf[4096];
    ssize_t len = ::readlink(holder->c_str(), buf, sizeof buf - 1);
    std::string target = len > 0 ? std::string(buf, static_cast<size_t>(len)) : "";
    if (target == rootfs || target.starts_with(rootfs + "/")) {
      live.push_back(*holder);
    } else if (prune_stale) {
      ::unlink(path.c_str());  // the link is gone or points elsewhere: stale
    }
  }
  return live;
}

uint64_t DiskUsage(const std::string& dir) {
  uint64_t total = 0;
  (void)WalkTree(dir, [&total](const std::string&, const struct stat& st) {
    total += static_cast<uint64_t>(st.st_blocks) * 512;
  });
  return total;
}

}  // namespace modelcar::store
