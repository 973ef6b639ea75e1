#include "tar/list.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/file.h"

namespace modelcar::tar {

namespace {

constexpr size_t kBlock = 512;

// Octal (NUL/space terminated) or GNU base-256 numeric field.
bool ParseNumber(const char* f, size_t n, uint64_t* out) {
  if (static_cast<unsigned char>(f[0]) & 0x80) {
    uint64_t v = static_cast<unsigned char>(f[0]) & 0x7f;
    for (size_t i = 1; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(f[i]);
    *out = v;
    return true;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && f[i] == ' ') ++i;
  bool any = false;
  for (; i < n && f[i] >= '0' && f[i] <= '7'; ++i) {
    v = (v << 3) | static_cast<uint64_t>(f[i] - '0');
    any = true;
  }
  for (; i < n; ++i) {
    if (f[i] != '\0' && f[i] != ' ') return false;
  }
  *out = any ? v : 0;
  return true;
}

std::string Field(const char* f, size_t n) { return std::string(f, strnlen(f, n)); }

Status PreadAll(int fd, char* buf, size_t n, uint64_t off, const std::string& path) {
  while (n > 0) {
    ssize_t got = ::pread(fd, buf, n, static_cast<off_t>(off));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read " + path);
    }
    if (got == 0)
      return DataLoss(fmt::format("{}: tar ends inside an entry at offset {}", path, off));
    buf += got;
    n -= static_cast<size_t>(got);
    off += static_cast<uint64_t>(got);
  }
  return Status();
}

// What extended headers (pax 'x', GNU 'L' and 'K') say about the entry that follows them.
struct NextEntry {
  std::string long_path, long_link, pax_path, pax_link;
  bool pax_size_set = false;
  uint64_t pax_size = 0;
};

bool ChecksumOk(const char* h) {
  uint64_t sum = 0, want = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  }
  return ParseNumber(h + 148, 8, &want) && sum == want;
}

// Reads the pax records of `ext` into `next`; nullptr, or what is wrong with them.
const char* ReadPaxRecords(const std::string& ext, NextEntry* next) {
  for (size_t pos = 0; pos < ext.size();) {
    size_t space = ext.find(' ', pos);
    if (space == std::string::npos) return "malformed pax record";
    uint64_t len = std::strtoull(ext.substr(pos, space - pos).c_str(), nullptr, 10);
    if (len == 0 || pos + len > ext.size()) return "malformed pax record length";
    std::string rec = ext.substr(space + 1, pos + len - space - 2);
    size_t eq = rec.find('=');
    if (eq == std::string::npos) return "pax record without '='";
    std::string key = rec.substr(0, eq), value = rec.substr(eq + 1);
    if (key == "path") next->pax_path = value;
    if (key == "linkpath") next->pax_link = value;
    if (key == "size") {
      next->pax_size = std::strtoull(value.c_str(), nullptr, 10);
      next->pax_size_set = true;
    }
    pos += len;
  }
  return nullptr;
}

// The path and link target of header `h`: pax's, else GNU's long ones, else the header's own.
void NamesOf(const char* h, const NextEntry& next, ListedEntry* e) {
  std::string name = Field(h, 100);
  std::string prefix = std::memcmp(h + 257, "ustar", 5) == 0 ? Field(h + 345, 155) : "";
  e->path = !next.pax_path.empty()    ? next.pax_path
            : !next.long_path.empty() ? next.long_path
            : prefix.empty()          ? name
                                      : prefix + "/" + name;
  e->link_target = !next.pax_link.empty()    ? next.pax_link
                   : !next.long_link.empty() ? next.long_link
                                             : Field(h + 157, 100);
}

}  // namespace

Result<std::vector<ListedEntry>> ListTarFile(const std::string& path) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  std::vector<ListedEntry> out;
  uint64_t off = 0;
  NextEntry next;
  char h[kBlock];
  while (off + kBlock <= file_size) {
    RETURN_IF_ERROR(PreadAll(fd.get(), h, kBlock, off, path));
    auto bad = [&](const std::string& why) {
      return DataLoss(fmt::format("{}: tar header at offset {}: {}", path, off, why));
    };
    bool zero = true;
    for (char c : h) zero = zero && c == 0;
    if (zero) return out;  // end-of-archive marker
    if (!ChecksumOk(h)) return bad("bad checksum");
    uint64_t size = 0, mode = 0, uid = 0, gid = 0;
    if (!ParseNumber(h + 124, 12, &size) || !ParseNumber(h + 100, 8, &mode) ||
        !ParseNumber(h + 108, 8, &uid) || !ParseNumber(h + 116, 8, &gid)) {
      return bad("malformed numeric field");
    }
    char type = h[156] == '\0' ? '0' : h[156];
    if (next.pax_size_set && type != 'x' && type != 'g' && type != 'L' && type != 'K') {
      size = next.pax_size;
    }
    uint64_t data_off = off + kBlock;
    const bool header_only = std::strchr("123456", type) != nullptr && type != '\0';
    uint64_t padded = header_only ? 0 : (size + kBlock - 1) / kBlock * kBlock;
    if (data_off + padded > file_size) return bad("entry runs past the end of the file");
    if (type == 'x' || type == 'L' || type == 'K') {
      if (size > (1 << 20)) return bad("extended header too large");
      std::string ext(size, '\0');
      RETURN_IF_ERROR(PreadAll(fd.get(), ext.data(), size, data_off, path));
      if (type == 'L') {
        next.long_path = std::string(ext.c_str());
      } else if (type == 'K') {
        next.long_link = std::string(ext.c_str());
      } else if (const char* why = ReadPaxRecords(ext, &next)) {
        return bad(why);
      }
    } else if (type != 'g') {
      ListedEntry e;
      NamesOf(h, next, &e);
      e.type = type;
      e.size = header_only ? 0 : size;
      e.mode = static_cast<uint32_t>(mode);
      e.uid = static_cast<uint32_t>(uid);
      e.gid = static_cast<uint32_t>(gid);
      out.push_back(std::move(e));
      next = NextEntry();
    }
    // Links, devices, dirs and fifos carry no data even when a size is set.
    off = data_off + padded;
  }
  if (off != file_size && off + kBlock > file_size) {
    return DataLoss(fmt::format("{}: tar ends inside a header at offset {}", path, off));
  }
  return out;  // no end marker: accepted (some writers omit it)
}

}  // namespace modelcar::tar
