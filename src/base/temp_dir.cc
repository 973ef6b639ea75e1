#include "base/temp_dir.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace modelcar {

namespace {

std::string TmpDir() {
  const char* tmp = std::getenv("TMPDIR");
  return (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
}

std::string PathTemplate(std::string_view parent, std::string_view prefix) {
  std::string tmpl(parent);
  tmpl.append("/").append(prefix).append("-XXXXXX");
  return tmpl;
}

}  // namespace

TempDir::TempDir(std::string_view prefix) : TempDir(Template{PathTemplate(TmpDir(), prefix)}) {}

TempDir TempDir::In(std::string_view parent, std::string_view prefix) {
  return TempDir(Template{PathTemplate(parent, prefix)});
}

TempDir::TempDir(Template t) {
  std::string tmpl = std::move(t.path);
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "cannot make a temporary directory %s: %s\n", tmpl.c_str(),
                 std::strerror(errno));
    std::abort();
  }
  path_ = std::move(tmpl);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;  // best effort: a failed removal must not throw from a destructor
  std::filesystem::remove_all(path_, ec);
}

TempDir& TempDir::operator=(TempDir&& o) noexcept {
  if (this != &o) {
    TempDir gone(std::move(*this));
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

}  // namespace modelcar
