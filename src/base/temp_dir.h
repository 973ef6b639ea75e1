// TempDir: a fresh directory made with mkdtemp(3) under $TMPDIR (default /tmp), removed with
// everything in it when the object is destroyed. For tests and scratch space:
//
//   TempDir tmp("modelcar-layout-test");
//   WriteFileAtomic(tmp.path() + "/index.json", "{}");
//
// Movable (the moved-from object owns nothing), not copyable. Not thread-safe per object.
#ifndef MODELCAR_BASE_TEMP_DIR_H_
#define MODELCAR_BASE_TEMP_DIR_H_

#include <string>
#include <string_view>

namespace modelcar {

class TempDir {
 public:
  // Makes $TMPDIR/<prefix>-XXXXXX. Aborts with a message on stderr when it cannot (a test that
  // cannot make a scratch directory cannot run).
  explicit TempDir(std::string_view prefix = "modelcar-test");
  // Makes <parent>/<prefix>-XXXXXX instead (a test that needs a given filesystem: /dev/shm, ...).
  static TempDir In(std::string_view parent, std::string_view prefix);
  ~TempDir();
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&& o) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The absolute path, without a trailing slash.
  const std::string& path() const { return path_; }

 private:
  struct Template {
    std::string path;  // ends in XXXXXX
  };
  explicit TempDir(Template t);

  std::string path_;
};

}  // namespace modelcar

#endif  // MODELCAR_BASE_TEMP_DIR_H_
