#include "tar/extract.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace modelcar::tar {
namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

std::string Join(const std::vector<std::string>& comps, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += '/';
    out += comps[i];
  }
  return out;
}

std::string Quote(std::string_view s) { return QuoteEntryName(s); }

Status EntryError(Code code, const Entry& e, std::string_view why) {
  return Status(code, "tar entry " + Quote(e.path) + ": " + std::string(why));
}

}  // namespace

Result<std::vector<std::string>> SafeComponents(std::string_view path) {
  if (path.empty()) return InvalidArgument("tar entry with an empty name");
  if (path.front() == '/') {
    return InvalidArgument("tar entry " + Quote(path) + ": absolute path refused");
  }
  if (path.find('\0') != std::string_view::npos) {
    return InvalidArgument("tar entry " + Quote(path) + ": NUL in name");
  }
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (c == "..") return InvalidArgument("tar entry " + Quote(path) + ": \"..\" refused");
    if (!c.empty() && c != ".") out.emplace_back(c);
    i = j + 1;
  }
  return out;
}

Result<UniqueFd> OpenDirNoFollow(int root_fd, const std::vector<std::string>& comps, size_t n,
                                 bool create, std::string_view entry) {
  int fd = ::dup(root_fd);
  if (fd < 0) return ErrnoStatus(errno, "dup");
  UniqueFd cur(fd);
  for (size_t i = 0; i < n; ++i) {
    const char* c = comps[i].c_str();
    int next = ::openat(cur.get(), c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), c, 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno,
                           "tar entry " + Quote(entry) + ": mkdir " + Quote(Join(comps, i + 1)));
      }
      next = ::openat(cur.get(), c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return InvalidArgument("tar entry " + Quote(entry) + ": parent " +
                               Quote(Join(comps, i + 1)) +
                               " is a symlink or not a directory (refusing to follow it)");
      }
      return ErrnoStatus(errno,
                         "tar entry " + Quote(entry) + ": open " + Quote(Join(comps, i + 1)));
    }
    cur.Reset(next);
  }
  return cur;
}

namespace {

// The names in the directory open at `dir_fd` (without "." and ".."); `name` is for errors.
Result<std::vector<std::string>> ListChildren(int dir_fd, const std::string& name) {
  int fd = ::dup(dir_fd);
  DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (!d) {
    int err = errno;
    if (fd >= 0) ::close(fd);
    return ErrnoStatus(err, "opendir " + name);
  }
  ::rewinddir(d);  // the duplicate shares its position with dir_fd
  std::vector<std::string> children;
  while (dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") children.emplace_back(n);
  }
  ::closedir(d);
  return children;
}

}  // namespace

Status RemoveTreeAt(int dir_fd, const std::string& name) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status();
    return ErrnoStatus(errno, "stat " + name);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "unlink " + name);
    }
    return Status();
  }
  ::fchmodat(dir_fd, name.c_str(), 0700, 0);  // read-only trees: make it removable
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open " + name);
  UniqueFd dir(fd);
  ASSIGN_OR_RETURN(std::vector<std::string> children, ListChildren(dir.get(), name));
  Status st_all;
  for (const std::string& c : children) {
    Status s = RemoveTreeAt(dir.get(), c);
    if (!s.ok() && st_all.ok()) st_all = s.WithContext(name);
  }
  RETURN_IF_ERROR(st_all);
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "rmdir " + name);
  }
  return Status();
}

Status MoveOrDropAt(int from_fd, const std::string& name, int to_fd) {
  const char* n = name.c_str();
  int r = ::renameat2(from_fd, n, to_fd, n, RENAME_NOREPLACE);
  if (r != 0 && errno == EINVAL) {  // a filesystem without RENAME_NOREPLACE
    struct stat st;
    if (::fstatat(to_fd, n, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      errno = EEXIST;
    } else {
      r = ::renameat(from_fd, n, to_fd, n);
    }
  }
  if (r == 0 || errno == ENOENT) return Status();
  if (errno != EEXIST && errno != ENOTEMPTY) return ErrnoStatus(errno, "move " + name);
  struct stat from, to;
  if (::fstatat(from_fd, n, &from, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(from.st_mode) &&
      ::fstatat(to_fd, n, &to, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(to.st_mode)) {
    int sfd = ::openat(from_fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) return ErrnoStatus(errno, "open " + name);
    UniqueFd src(sfd);
    int dfd = ::openat(to_fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return ErrnoStatus(errno, "open " + name);
    UniqueFd dst(dfd);
    ASSIGN_OR_RETURN(std::vector<std::string> children, ListChildren(src.get(), name));
    for (const std::string& c : children) {
      Status s = MoveOrDropAt(src.get(), c, dst.get());
      if (!s.ok()) return s.WithContext(name);
    }
  }
  return RemoveTreeAt(from_fd, name);
}

Result<std::unique_ptr<Extractor>> Extractor::Open(const std::string& root) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(root, O_RDONLY | O_DIRECTORY));
  return std::unique_ptr<Extractor>(new Extractor(std::move(fd)));
}

void Extractor::BeginLayer(size_t index, std::set<std::string> earlier_attempt) {
  this_layer_.clear();
  earlier_attempt_ = std::move(earlier_attempt);
  layer_ = index;
  layer_shadow_.Reset();
}

Status Extractor::Meta(std::string_view bytes) { return meta_sink_ ? meta_sink_(bytes) : Status(); }

Status Extractor::RemoveExisting(int dir_fd, const std::string& name, const std::string& path,
                                 const Entry& e) {
  Status s = shadow_dir_.empty() || earlier_attempt_.count(path) ? RemoveTreeAt(dir_fd, name)
                                                                 : MoveToShadow(dir_fd, name, path);
  return s.ok() ? s : EntryError(s.code(), e, s.message());
}

Status Extractor::MoveToShadow(int dir_fd, const std::string& name, const std::string& path) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? Status() : ErrnoStatus(errno, "stat " + Quote(path));
  }
  if (!layer_shadow_.valid()) {
    std::string d = fmt::format("{}/{}", shadow_dir_, layer_);
    RETURN_IF_ERROR(MakeDirs(d));
    ASSIGN_OR_RETURN(layer_shadow_, OpenFile(d, O_RDONLY | O_DIRECTORY));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> comps, SafeComponents(path));
  auto parent = OpenDirNoFollow(layer_shadow_.get(), comps, comps.size() - 1, true, path);
  if (!parent.ok()) {
    // A non-directory holds the parent's place (only after an interrupted extraction of this
    // layer): what is there was moved first and is kept; this one goes.
    if (parent.status().code() != Code::kInvalidArgument) return parent.status();
    return RemoveTreeAt(dir_fd, name);
  }
  return MoveOrDropAt(dir_fd, name, parent->get());
}

Status Extractor::CheckKeepsThisLayer(const std::string& path, const Entry& e) const {
  std::string inside = path + "/";
  auto it = this_layer_.count(path) ? this_layer_.find(path) : this_layer_.lower_bound(inside);
  if (it == this_layer_.end() || (*it != path && !it->starts_with(inside))) return Status();
  return EntryError(Code::kInvalidArgument, e,
                    "would remove or replace " + Quote(*it) +
                        ", written earlier in the same layer (a layer must not hold one path "
                        "twice: it could not be rebuilt from the extracted tree)");
}

Status Extractor::Whiteout(const std::vector<std::string>& comps, const Entry& e) {
  const std::string& base = comps.back();
  ASSIGN_OR_RETURN(UniqueFd dir,
                   OpenDirNoFollow(root_.get(), comps, comps.size() - 1, true, e.path));
  std::string dir_path = Join(comps, comps.size() - 1);
  auto child = [&dir_path](const std::string& n) {
    return dir_path.empty() ? n : dir_path + "/" + n;
  };
  if (base == kOpaque) {
    // Remove every child that an earlier layer left (entries of this layer stay; one holding
    // entries of this layer is refused).
    Result<std::vector<std::string>> children = ListChildren(dir.get(), dir_path);
    if (!children.ok()) {
      return EntryError(Code::kInternal, e, "cannot list directory for opaque whiteout");
    }
    std::vector<std::string> victims;
    for (std::string& n : *children) {
      if (!this_layer_.count(child(n))) victims.push_back(std::move(n));
    }
    for (const std::string& v : victims) {
      RETURN_IF_ERROR(CheckKeepsThisLayer(child(v), e));
    }
    for (const std::string& v : victims) {
      RETURN_IF_ERROR(RemoveExisting(dir.get(), v, child(v), e));
    }
    return Status();
  }
  if (base.starts_with(".wh..wh.")) return Status();  // aufs metadata: nothing to apply
  std::string victim = base.substr(kWhiteoutPrefix.size());
  if (victim.empty() || victim == "." || victim == "..") {
    return EntryError(Code::kInvalidArgument, e, "malformed whiteout name");
  }
  RETURN_IF_ERROR(CheckKeepsThisLayer(child(victim), e));
  return RemoveExisting(dir.get(), victim, child(victim), e);
}

Status Extractor::BeginEntry(const Entry& e) {
  ++stats_.entries;
  ASSIGN_OR_RETURN(std::vector<std::string> comps, SafeComponents(e.path));
  if (comps.empty()) {
    if (e.type == EntryType::kDirectory) return Status();  // "./": the root itself
    return EntryError(Code::kInvalidArgument, e, "names the root directory");
  }
  if (e.type == EntryType::kCharDevice || e.type == EntryType::kBlockDevice ||
      e.type == EntryType::kFifo) {
    return EntryError(Code::kInvalidArgument, e,
                      std::string(EntryTypeName(e.type)) + " refused (no device nodes or fifos)");
  }
  const std::string& name = comps.back();
  if (name.starts_with(kWhiteoutPrefix)) {
    if (e.type != EntryType::kRegular || e.size != 0) {
      return EntryError(Code::kInvalidArgument, e, "whiteout must be an empty regular file");
    }
    return Whiteout(comps, e);
  }
  std::string norm = Join(comps, comps.size());
  ASSIGN_OR_RETURN(UniqueFd dir,
                   OpenDirNoFollow(root_.get(), comps, comps.size() - 1, true, e.path));
  uint32_t mode = e.mode & 0777;

  if (e.type == EntryType::kDirectory) return MakeDirectory(dir.get(), name, norm, e);

  RETURN_IF_ERROR(CheckKeepsThisLayer(norm, e));
  this_layer_.insert(norm);
  if (replay_ && e.type == EntryType::kRegular) {
    int fd = ::openat(dir.get(), name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "tar entry " + Quote(e.path) + ": reopen for resume");
    OpenedFile(fd, e.path, mode);
    ++stats_.files;
    return Status();
  }
  RETURN_IF_ERROR(RemoveExisting(dir.get(), name, norm, e));
  switch (e.type) {
    case EntryType::kSymlink:
      if (e.link_target.empty()) return EntryError(Code::kInvalidArgument, e, "empty symlink");
      if (::symlinkat(e.link_target.c_str(), dir.get(), name.c_str()) != 0) {
        return ErrnoStatus(errno, "tar entry " + Quote(e.path) + ": symlink");
      }
      return Status();
    case EntryType::kHardLink:
      return MakeHardLink(dir.get(), name, e);
    case EntryType::kRegular:
      return CreateFile(dir.get(), name, e);
    default:
      return EntryError(Code::kInvalidArgument, e, "unexpected entry type");
  }
}

Status Extractor::MakeDirectory(int dir_fd, const std::string& name, const std::string& path,
                                const Entry& e) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
    RETURN_IF_ERROR(CheckKeepsThisLayer(path, e));
    RETURN_IF_ERROR(RemoveExisting(dir_fd, name, path, e));
  }
  this_layer_.insert(path);
  if (::mkdirat(dir_fd, name.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "tar entry " + Quote(e.path) + ": mkdir");
  }
  dir_modes_.emplace_back(path, e.mode & 0777);
  return Status();
}

Status Extractor::MakeHardLink(int dir_fd, const std::string& name, const Entry& e) {
  auto target = SafeComponents(e.link_target);
  if (!target.ok()) {
    return EntryError(Code::kInvalidArgument, e,
                      "hard link target " + Quote(e.link_target) + " leaves the tree");
  }
  if (target->empty()) return EntryError(Code::kInvalidArgument, e, "hard link to the root");
  ASSIGN_OR_RETURN(UniqueFd tdir,
                   OpenDirNoFollow(root_.get(), *target, target->size() - 1, false, e.path));
  struct stat st;
  if (::fstatat(tdir.get(), target->back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return EntryError(Code::kInvalidArgument, e,
                      "hard link target " + Quote(e.link_target) + " does not exist");
  }
  if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
    return EntryError(Code::kInvalidArgument, e,
                      "hard link target " + Quote(e.link_target) + " is not a file");
  }
  if (::linkat(tdir.get(), target->back().c_str(), dir_fd, name.c_str(), 0) != 0) {
    return ErrnoStatus(errno, "tar entry " + Quote(e.path) + ": link");
  }
  return Status();
}

Status Extractor::CreateFile(int dir_fd, const std::string& name, const Entry& e) {
  int fd =
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "tar entry " + Quote(e.path) + ": create");
  OpenedFile(fd, e.path, e.mode & 0777);
  // Reserve the blocks (a full disk fails here, not half way) but keep the size at what was
  // written, so an interrupted pull can tell how far a file got.
  if (e.size > 0 && ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(e.size)) != 0 &&
      (errno == ENOSPC || errno == EDQUOT)) {
    return ErrnoStatus(errno, fmt::format("tar entry {}: reserve {} bytes", Quote(e.path), e.size));
  }
  ++stats_.files;
  return Status();
}

void Extractor::OpenedFile(int fd, const std::string& path, uint32_t mode) {
  file_.Reset(fd);
  file_pos_ = 0;
  writeback_ = WritebackPacer();
  file_path_ = path;
  file_mode_ = mode;
}

Status Extractor::Data(std::string_view bytes) {
  if (!file_.valid()) return Internal("tar: data without an open file");
  stats_.file_bytes += bytes.size();
  file_pos_ += bytes.size();
  if (replay_) {
    if (::lseek(file_.get(), static_cast<off_t>(bytes.size()), SEEK_CUR) < 0) {
      return ErrnoStatus(errno, "seek " + Quote(file_path_));
    }
    return Status();
  }
  RETURN_IF_ERROR(WriteAll(file_.get(), bytes, file_path_));
  writeback_.Wrote(file_.get(), file_pos_);
  return Status();
}

Status Extractor::EndEntry() {
  if (!file_.valid()) return Status();
  if (::fchmod(file_.get(), file_mode_) != 0)
    return ErrnoStatus(errno, "chmod " + Quote(file_path_));
  file_.Reset();
  return Status();
}

Status Extractor::Finish() {
  // Directories are reopened without following symlinks: a later entry may have replaced one.
  for (const auto& [path, mode] : dir_modes_) {
    ASSIGN_OR_RETURN(std::vector<std::string> comps, SafeComponents(path));
    auto dir = OpenDirNoFollow(root_.get(), comps, comps.size(), false, path);
    if (!dir.ok()) continue;  // removed or replaced by a later entry
    if (::fchmod(dir->get(), mode | 0700) != 0) return ErrnoStatus(errno, "chmod " + Quote(path));
  }
  return Status();
}

}  // namespace modelcar::tar
