#include "peer/piece_spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "base/file.h"
#include "base/json.h"

namespace modelcar::peer {

namespace fs = std::filesystem;

namespace {

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

// Writes `data` to `path` through a temporary file and a rename (no fsync: a spool does not
// outlive its pull's purpose, and a torn piece fails its hash).
Status WriteRenamed(const std::string& path, std::string_view data) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = path + ".tmp-" + std::to_string(rng());
  {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    Status s = WriteAll(fd.get(), data, tmp);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(err, "rename " + tmp);
  }
  return Status();
}

struct LayerFile {
  oci::Digest digest;
  PieceGeometry g;
};

Result<LayerFile> ReadLayerFile(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/layer.json", 4096));
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJsonLimited(text, "spool layer"));
  LayerFile out;
  try {
    ASSIGN_OR_RETURN(out.digest, oci::Digest::Parse(j.at("digest").get<std::string>()));
    out.g.blob_size = j.at("size").get<uint64_t>();
    out.g.piece_size = j.at("pieceSize").get<uint64_t>();
  } catch (const std::exception& e) {
    return InvalidArgument(dir + "/layer.json: " + e.what());
  }
  RETURN_IF_ERROR(CheckPieceSize(out.g.piece_size));
  return out;
}

// True when a live pull holds the spool's lock.
bool Held(const std::string& dir) {
  auto probe = store::FileLock::TryAcquire(dir + "/lock", store::FileLock::Mode::kShared);
  return !probe.ok() && probe.status().code() == Code::kUnavailable;
}

bool Claimed(const std::string& dir, uint64_t i) {
  auto claims = ReadFile(dir + "/claims", uint64_t{1} << 24);
  return claims.ok() && i < claims->size() && (*claims)[i] == '1';
}

}  // namespace

std::string SpoolRoot(const std::string& store_root) { return store_root + "/peer-spool"; }

std::string SpoolLayerDir(const std::string& store_root, const oci::Digest& d,
                          uint64_t piece_size) {
  return SpoolRoot(store_root) + "/" + d.hex() + "-" + std::to_string(piece_size);
}

Result<std::unique_ptr<SpoolWriter>> SpoolWriter::Open(const std::string& store_root,
                                                       const oci::Digest& d, PieceGeometry g) {
  std::string dir = SpoolLayerDir(store_root, d, g.piece_size);
  RETURN_IF_ERROR(MakeDirs(dir));
  std::unique_ptr<SpoolWriter> w(new SpoolWriter(dir, g));
  ASSIGN_OR_RETURN(w->lock_,
                   store::FileLock::TryAcquire(dir + "/lock", store::FileLock::Mode::kExclusive));
  // A spool left by a pull that died may hold pieces of another geometry: start it afresh.
  auto old = ReadLayerFile(dir);
  if (!old.ok() || old->digest != d || old->g.blob_size != g.blob_size) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().filename() != "lock") fs::remove(e.path(), ec);
    }
    nlohmann::json j = {
        {"digest", d.ToString()}, {"size", g.blob_size}, {"pieceSize", g.piece_size}};
    RETURN_IF_ERROR(WriteRenamed(dir + "/layer.json", j.dump()));
  }
  return w;
}

Status SpoolWriter::Claim(const std::vector<bool>& claims) {
  std::string text(claims.size(), '0');
  for (size_t i = 0; i < claims.size(); ++i) {
    if (claims[i]) text[i] = '1';
  }
  std::lock_guard<std::mutex> lock(mu_);
  return WriteRenamed(dir_ + "/claims", text);
}

Status SpoolWriter::MarkNoRange() { return WriteRenamed(dir_ + "/no-range", ""); }

Status SpoolWriter::Put(uint64_t i, std::string_view bytes, const oci::Digest& digest) {
  if (bytes.size() != g_.length(i)) {
    return InvalidArgument("spool: piece " + std::to_string(i) + " has the wrong length");
  }
  const std::string base = dir_ + "/" + std::to_string(i);
  RETURN_IF_ERROR(WriteRenamed(base + ".sha256", digest.ToString()));
  return WriteRenamed(base, bytes);
}

Result<std::string> SpoolWriter::Get(uint64_t i) const {
  const std::string base = dir_ + "/" + std::to_string(i);
  ASSIGN_OR_RETURN(std::string want, ReadFile(base + ".sha256", 256));
  ASSIGN_OR_RETURN(oci::Digest d, oci::Digest::Parse(want));
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(base, g_.piece_size));
  if (bytes.size() != g_.length(i) || oci::Sha256Of(bytes) != d) {
    return DataLoss("spooled piece " + base + " does not match its hash");
  }
  return bytes;
}

void SpoolWriter::Release() { lock_.Release(); }

int64_t SpoolWriter::LastServedNs() const { return MtimeNs(dir_ + "/served"); }

void SpoolWriter::Remove() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

int64_t SpooledLayerSize(const std::string& store_root, const oci::Digest& d, uint64_t piece_size) {
  auto f = ReadLayerFile(SpoolLayerDir(store_root, d, piece_size));
  if (!f.ok() || f->digest != d) return -1;
  return static_cast<int64_t>(f->g.blob_size);
}

bool SpoolHashCache::Known(const std::string& path, const FileStamp& stamp,
                           const oci::Digest& d) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = known_.find(path);
  return it != known_.end() && it->second.first == stamp && it->second.second == d;
}

void SpoolHashCache::Add(const std::string& path, const FileStamp& stamp, const oci::Digest& d) {
  std::lock_guard<std::mutex> lock(mu_);
  if (known_.size() >= 100000) known_.clear();
  known_[path] = {stamp, d};
}

SpooledPiece LookupSpooledPiece(const std::string& store_root, const oci::Digest& d,
                                uint64_t piece_size, uint64_t start, uint64_t length,
                                std::string* why, SpoolHashCache* cache) {
  SpooledPiece out;
  const std::string dir = SpoolLayerDir(store_root, d, piece_size);
  auto f = ReadLayerFile(dir);
  if (!f.ok() || f->digest != d) return out;
  const uint64_t i = f->g.index_of(start);
  out.spooled = true;
  out.no_range = ::access((dir + "/no-range").c_str(), F_OK) == 0;
  if (start >= f->g.blob_size || start != f->g.start(i) || length != f->g.length(i)) return out;
  out.index = i;
  const std::string base = dir + "/" + std::to_string(i);
  auto want = ReadFile(base + ".sha256", 256);
  const FileStamp stamp = want.ok() ? StampOf(base) : FileStamp{};
  auto bytes = want.ok() ? ReadFile(base, piece_size) : want.status();
  if (bytes.ok()) {
    auto digest = oci::Digest::Parse(*want);
    bool good = digest.ok() && bytes->size() == length;
    if (good && !(cache && cache->Known(base, stamp, *digest))) {
      good = oci::Sha256Of(*bytes) == *digest;
      if (good && cache) cache->Add(base, stamp, *digest);
    }
    if (good) {
      out.state = SpooledPiece::State::kReady;
      out.bytes = std::move(*bytes);
      out.digest = *digest;
      // Peers still read this spool: keep it (RemoveStaleSpools).
      UniqueFd fd(::open((dir + "/served").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      if (fd.valid()) ::futimens(fd.get(), nullptr);
      return out;
    }
    if (why) *why = "spooled piece " + base + " does not match its hash";
    return out;
  }
  if (Claimed(dir, i) && Held(dir)) {
    out.state = SpooledPiece::State::kPending;
    out.progress = MtimeNs(dir);
  }
  return out;
}

void RemoveStaleSpools(const std::string& store_root, int64_t max_age_s) {
  std::error_code ec;
  const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  for (const auto& e : fs::directory_iterator(SpoolRoot(store_root), ec)) {
    const std::string dir = e.path().string();
    if (!e.is_directory(ec) || Held(dir)) continue;
    int64_t touched = std::max(MtimeNs(dir), MtimeNs(dir + "/served"));
    if (now_ns - touched > max_age_s * 1000000000) fs::remove_all(dir, ec);
  }
}

}  // namespace modelcar::peer
