#include "store/tree_walk.h"

#include <dirent.h>

#include <cerrno>

namespace modelcar::store {

Status WalkTree(const std::string& dir,
                const std::function<void(const std::string& path, const struct stat& st)>& file,
                const std::function<void(const std::string& path)>& dir_done) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ErrnoStatus(errno, "opendir " + dir);
  Status result;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n == "." || n == "..") continue;
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      Status s = WalkTree(p, file, dir_done);
      if (!s.ok() && result.ok()) result = s;
    } else if (S_ISREG(st.st_mode)) {
      file(p, st);
    }
  }
  ::closedir(d);
  if (dir_done) dir_done(dir);
  return result;
}

}  // namespace modelcar::store
