#include "oci/layout.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>

#include "base/crashpoint.h"
#include "base/direct_io.h"
#include "base/file.h"
#include "oci/media_types.h"
#include "oci/parallel_hash.h"
#include "oci/reference.h"

namespace modelcar::oci {

namespace {

constexpr std::string_view kLayoutFile = "{\"imageLayoutVersion\":\"1.0.0\"}";

std::string BlobDir(const std::string& root) { return root + "/blobs/sha256"; }

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(12, 'x');
  for (char& c : s) c = kChars[rng() % 36];
  return s;
}

// Writes of at least this size hash on a second thread while the data is written.
constexpr size_t kParallelHashMin = 1 << 20;

class FileBlobWriter : public BlobWriter {
 public:
  FileBlobWriter(std::string blob_dir, std::string tmp, UniqueFd fd)
      : blob_dir_(std::move(blob_dir)),
        tmp_(std::move(tmp)),
        fd_(std::move(fd)),
        out_(fd_.get(), tmp_) {}
  ~FileBlobWriter() override {
    if (!committed_) ::unlink(tmp_.c_str());
  }

  // Big aligned pieces (build's read buffers) go to disk with direct I/O: see base/direct_io.h.
  Status Write(std::string_view data) override {
    if (data.size() < kParallelHashMin) {
      hash_.Update(data);
      return out_.Append(data);
    }
    hash_.Begin(data);  // hashed on a helper thread while this one writes
    Status st = out_.Append(data);
    hash_.End();
    return st;
  }
  uint64_t size() const override { return out_.size(); }

  Result<Digest> Commit(const std::optional<Digest>& expected) override {
    Digest got = hash_.Finish();
    if (expected && *expected != got) {
      return DataLoss("blob written as " + expected->ToString() + " has digest " + got.ToString());
    }
    if (::fsync(fd_.get()) != 0) return ErrnoStatus(errno, "fsync " + tmp_);
    if (::fchmod(fd_.get(), 0644) != 0) return ErrnoStatus(errno, "chmod " + tmp_);
    fd_.Reset();
    std::string final_path = blob_dir_ + "/" + got.hex();
    if (::rename(tmp_.c_str(), final_path.c_str()) != 0) {
      return ErrnoStatus(errno, "rename " + tmp_ + " to " + final_path);
    }
    committed_ = true;
    return got;
  }

 private:
  const std::string blob_dir_;
  const std::string tmp_;
  UniqueFd fd_;
  Appender out_;
  ParallelSha256 hash_;
  bool committed_ = false;
};

class FileBlobReader : public BlobReader {
 public:
  FileBlobReader(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_.get(), buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return ErrnoStatus(errno, "read " + path_);
    }
  }

 private:
  const std::string path_;
  UniqueFd fd_;
};

// Removes the temporary directories (`prefix`*) that killed writers of a new layout left in
// `parent`. A live writer holds a flock on its directory, so only abandoned ones are removed.
void RemoveStaleWorkDirs(const std::string& parent, const std::string& prefix) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(parent, ec)) {
    std::string name = e.path().filename().string();
    if (!name.starts_with(prefix) || !e.is_directory(ec)) continue;
    int fd = ::open(e.path().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    UniqueFd held(fd);
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) std::filesystem::remove_all(e.path(), ec);
  }
}

Result<Index> ReadIndex(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/index.json", 64 << 20));
  auto index = ParseIndex(text);
  if (!index.ok()) return index.status().WithContext(dir + "/index.json");
  return index;
}

}  // namespace

Result<LayoutSpec> ParseLayoutSpec(std::string_view spec, std::string_view default_tag) {
  LayoutSpec out;
  size_t colon = spec.rfind(':');
  if (colon != std::string_view::npos && spec.find('/', colon) == std::string_view::npos) {
    std::string_view tag = spec.substr(colon + 1);
    if (!IsValidTag(tag)) {
      return InvalidArgument("layout \"" + std::string(spec) + "\": tag \"" + std::string(tag) +
                             "\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
    out.dir = std::string(spec.substr(0, colon));
    out.tag = std::string(tag);
  } else {
    out.dir = std::string(spec);
    out.tag = std::string(default_tag);
  }
  if (out.dir.empty()) return InvalidArgument("layout \"" + std::string(spec) + "\": empty path");
  while (out.dir.size() > 1 && out.dir.back() == '/') out.dir.pop_back();
  return out;
}

bool IsLayout(const std::string& dir) {
  auto text = ReadFile(dir + "/oci-layout", 1 << 16);
  return text.ok() && text->find("\"imageLayoutVersion\"") != std::string::npos &&
         text->find("\"1.0.0\"") != std::string::npos;
}

// ---- LayoutSink ----

LayoutSink::LayoutSink(std::string dir, std::string work_dir, Mode mode)
    : dir_(std::move(dir)), work_dir_(std::move(work_dir)), mode_(mode) {}

Result<std::unique_ptr<LayoutSink>> LayoutSink::Open(const std::string& dir) {
  struct stat st;
  Mode mode;
  std::string work;
  UniqueFd work_lock;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, "layout " + dir);
    std::string parent = DirName(dir);
    RETURN_IF_ERROR(MakeDirs(parent));
    std::string base = dir.substr(dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/') + 1);
    RemoveStaleWorkDirs(parent, "." + base + ".tmp-");
    std::string tmpl = parent + "/." + base + ".tmp-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus(errno, "create " + tmpl);
    ::chmod(tmpl.c_str(), 0755);
    work = tmpl;
    mode = Mode::kNew;
    ASSIGN_OR_RETURN(work_lock, OpenFile(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    while (::flock(work_lock.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return ErrnoStatus(errno, "lock " + work);
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return FailedPrecondition("layout " + dir + " exists and is not a directory");
  } else if (IsLayout(dir)) {
    work = dir;
    mode = Mode::kExisting;
    RETURN_IF_ERROR(ReadIndex(dir).status());
  } else {
    std::error_code ec;
    if (!std::filesystem::is_empty(dir, ec) || ec) {
      return FailedPrecondition("layout " + dir +
                                " exists and is not an OCI image layout (no valid oci-layout "
                                "file); refusing to write into it");
    }
    work = dir;
    mode = Mode::kEmptyDir;
  }
  std::unique_ptr<LayoutSink> sink(new LayoutSink(dir, work, mode));
  sink->work_lock_ = std::move(work_lock);
  RETURN_IF_ERROR(MakeDirs(BlobDir(work)));
  return sink;
}

LayoutSink::~LayoutSink() {
  if (finished_) return;
  std::error_code ec;
  if (mode_ == Mode::kNew) {
    std::filesystem::remove_all(work_dir_, ec);
  } else if (mode_ == Mode::kEmptyDir) {
    std::filesystem::remove_all(work_dir_ + "/blobs", ec);
    std::filesystem::remove(work_dir_ + "/index.json", ec);
    std::filesystem::remove(work_dir_ + "/oci-layout", ec);
  }
}

Result<std::unique_ptr<BlobWriter>> LayoutSink::NewBlobWriter() {
  std::string blob_dir = BlobDir(work_dir_);
  std::string tmp = blob_dir + "/.tmp-" + RandomSuffix();
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600));
  return std::unique_ptr<BlobWriter>(new FileBlobWriter(blob_dir, tmp, std::move(fd)));
}

Result<bool> LayoutSink::HasBlob(const Descriptor& d) {
  struct stat st;
  std::string path = BlobDir(work_dir_) + "/" + d.digest.hex();
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return ErrnoStatus(errno, "stat " + path);
  }
  return S_ISREG(st.st_mode) && st.st_size == d.size;
}

Status LayoutSink::AdoptVerifiedBlob(const Descriptor& d, const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  if (!S_ISREG(st.st_mode) || st.st_size != d.size) {
    return DataLoss(
        fmt::format("{}: not a file of {} bytes (blob {})", path, d.size, d.digest.ToString()));
  }
  ASSIGN_OR_RETURN(bool have, HasBlob(d));
  if (have) {
    ::unlink(path.c_str());
    return Status();
  }
  const std::string to = BlobDir(work_dir_) + "/" + d.digest.hex();
  if (::rename(path.c_str(), to.c_str()) != 0) {
    return ErrnoStatus(errno, "rename " + path + " to " + to);
  }
  return Status();
}

Status LayoutSink::WriteSmallBlob(std::string_view bytes, Digest* digest) {
  ASSIGN_OR_RETURN(auto writer, NewBlobWriter());
  RETURN_IF_ERROR(writer->Write(bytes));
  ASSIGN_OR_RETURN(*digest, writer->Commit());
  return Status();
}

Status LayoutSink::PutManifest(std::string_view bytes, std::string_view media_type,
                               std::string_view tag) {
  if (!IsManifestType(media_type) && !IsIndexType(media_type)) {
    return InvalidArgument("media type \"" + std::string(media_type) +
                           "\" is not a manifest or index type");
  }
  if (!tag.empty() && !IsValidTag(tag)) {
    return InvalidArgument("tag \"" + std::string(tag) + "\" is not a valid tag");
  }
  Descriptor d;
  RETURN_IF_ERROR(WriteSmallBlob(bytes, &d.digest));
  d.media_type = std::string(media_type);
  d.size = static_cast<int64_t>(bytes.size());
  if (!tag.empty()) d.annotations[std::string(kAnnotationRefName)] = std::string(tag);
  std::lock_guard<std::mutex> lock(mu_);
  pending_.push_back(std::move(d));
  return Status();
}

Status LayoutSink::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return FailedPrecondition("layout " + dir_ + ": Finish called twice");
  RETURN_IF_ERROR(FsyncDir(BlobDir(work_dir_)));
  // Lock the layout directory across read-modify-write of index.json (a new layout's temporary
  // directory is locked since Open).
  UniqueFd dir_fd;
  if (!work_lock_.valid()) {
    ASSIGN_OR_RETURN(dir_fd, OpenFile(work_dir_, O_RDONLY | O_DIRECTORY));
    while (::flock(dir_fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return ErrnoStatus(errno, "lock " + work_dir_);
    }
  }
  Index index;
  index.media_type = std::string(kOciIndex);
  if (mode_ == Mode::kExisting) {
    ASSIGN_OR_RETURN(index, ReadIndex(work_dir_));
    if (index.media_type.empty()) index.media_type = std::string(kOciIndex);
  }
  for (const Descriptor& d : pending_) {
    auto it = d.annotations.find(std::string(kAnnotationRefName));
    if (it != d.annotations.end()) {
      std::erase_if(index.manifests, [&](const Descriptor& e) {
        auto t = e.annotations.find(std::string(kAnnotationRefName));
        return t != e.annotations.end() && t->second == it->second;
      });
    }
    index.manifests.push_back(d);
  }
  if (mode_ != Mode::kExisting) {
    RETURN_IF_ERROR(WriteFileAtomic(work_dir_ + "/oci-layout", kLayoutFile));
  }
  RETURN_IF_ERROR(WriteFileAtomic(work_dir_ + "/index.json", SerializeIndex(index)));
  CrashPoint("layout.index-written");
  if (mode_ == Mode::kNew) {
    if (::rename(work_dir_.c_str(), dir_.c_str()) != 0) {
      return ErrnoStatus(errno, "rename " + work_dir_ + " to " + dir_);
    }
    RETURN_IF_ERROR(FsyncDir(DirName(dir_)));
  }
  finished_ = true;
  return Status();
}

// ---- LayoutSource ----

Result<std::unique_ptr<LayoutSource>> LayoutSource::Open(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus(errno, "layout " + dir);
  if (!S_ISDIR(st.st_mode) || !IsLayout(dir)) {
    return FailedPrecondition(dir + " is not an OCI image layout (no valid oci-layout file)");
  }
  ASSIGN_OR_RETURN(Index index, ReadIndex(dir));
  return std::unique_ptr<LayoutSource>(new LayoutSource(dir, std::move(index)));
}

std::string LayoutSource::BlobPath(const Digest& d) const { return BlobDir(dir_) + "/" + d.hex(); }

Result<FetchedManifest> LayoutSource::GetManifest(std::string_view tag_or_digest) {
  Descriptor want;
  if (tag_or_digest.starts_with("sha256:") || tag_or_digest.find(':') != std::string_view::npos) {
    ASSIGN_OR_RETURN(want.digest, Digest::Parse(tag_or_digest));
    for (const Descriptor& d : index_.manifests) {
      if (d.digest == want.digest) want = d;
    }
  } else {
    const Descriptor* found = nullptr;
    std::string tags;
    for (const Descriptor& d : index_.manifests) {
      auto it = d.annotations.find(std::string(kAnnotationRefName));
      if (it == d.annotations.end()) continue;
      if (it->second == tag_or_digest) found = &d;
      tags += (tags.empty() ? "" : ", ") + it->second;
    }
    if (found == nullptr) {
      return NotFound("tag \"" + std::string(tag_or_digest) + "\" not found in layout " + dir_ +
                      (tags.empty() ? " (it has no tags)" : " (tags: " + tags + ")"));
    }
    want = *found;
  }
  const std::string path = BlobPath(want.digest);
  auto bytes = ReadFile(path, 64 << 20);
  if (!bytes.ok()) return bytes.status().WithContext("manifest " + want.digest.ToString());
  FetchedManifest out;
  out.digest = Sha256Of(*bytes);
  if (out.digest != want.digest) {
    return DataLoss("manifest blob " + path + " does not match its digest (sha256 " +
                    out.digest.hex() + ")");
  }
  out.bytes = std::move(*bytes);
  out.media_type = want.media_type;
  if (out.media_type.empty()) {
    ASSIGN_OR_RETURN(out.media_type, SniffMediaType(out.bytes));
  }
  return out;
}

Result<std::unique_ptr<BlobReader>> LayoutSource::OpenBlob(const Descriptor& d) {
  std::string path = BlobPath(d.digest);
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd.ok()) return fd.status().WithContext("blob " + d.digest.ToString());
  return std::unique_ptr<BlobReader>(new FileBlobReader(path, std::move(*fd)));
}

}  // namespace modelcar::oci
