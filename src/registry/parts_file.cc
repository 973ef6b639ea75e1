#include "registry/parts_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace modelcar::registry {
namespace {

constexpr size_t kLine = 63;        // "%020llu %020llu %020llu\n"
constexpr size_t kDoneColumn = 42;  // offset of DONE in a line

std::string Digits(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020" PRIu64, v);
  return buf;
}

}  // namespace

Parts SplitParts(uint64_t from, uint64_t size, uint64_t part_size) {
  Parts parts;
  for (uint64_t s = from; s < size; s += part_size) {
    auto p = std::make_unique<Part>();
    p->start = s;
    p->end = std::min(size, s + part_size);
    parts.push_back(std::move(p));
  }
  return parts;
}

Result<PartsFile> PartsFile::Create(const std::string& path, const Parts& parts) {
  std::string text;
  for (const auto& p : parts) {
    text += Digits(p->start) + " " + Digits(p->end) + " " + Digits(p->done.load()) + "\n";
  }
  PartsFile f;
  f.path_ = path;
  ASSIGN_OR_RETURN(f.fd_, OpenFile(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  RETURN_IF_ERROR(WriteAll(f.fd_.get(), text, path));
  return f;
}

Parts PartsFile::Load(const std::string& path, uint64_t size, uint64_t file_size) {
  auto text = ReadFile(path, 1 << 20);
  if (!text.ok() || text->empty() || text->size() % kLine != 0) return {};
  Parts parts;
  std::istringstream in(*text);
  for (uint64_t start, end, done; in >> start >> end >> done;) {
    bool adjacent = parts.empty() || parts.back()->end == start;
    if (!adjacent || start >= end || done > end - start || (done > 0 && start + done > file_size)) {
      return {};
    }
    auto p = std::make_unique<Part>();
    p->start = start;
    p->end = end;
    p->done = done;
    parts.push_back(std::move(p));
  }
  if (parts.empty() || parts.back()->end != size || parts.size() * kLine != text->size()) return {};
  return parts;
}

Status PartsFile::Update(size_t i, uint64_t done) {
  std::string d = Digits(done);
  off_t at = static_cast<off_t>(i * kLine + kDoneColumn);
  if (::pwrite(fd_.get(), d.data(), d.size(), at) != static_cast<ssize_t>(d.size())) {
    return ErrnoStatus(errno, "write " + path_);
  }
  return Status();
}

}  // namespace modelcar::registry
