#include "tar/writer.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>

namespace modelcar::tar {

namespace {

constexpr uint64_t kMaxOctal11 = 077777777777ull;  // size, mtime fields
constexpr uint64_t kMaxOctal7 = 07777777ull;       // mode, uid, gid fields

// Writes `v` as zero-padded octal in `width - 1` digits followed by a NUL.
void PutOctal(char* field, size_t width, uint64_t v) {
  std::string digits(width - 1, '0');
  for (size_t i = width - 1; i-- > 0 && v != 0; v >>= 3)
    digits[i] = static_cast<char>('0' + (v & 7));
  std::memcpy(field, digits.data(), width - 1);
  field[width - 1] = '\0';
}

void PutString(char* field, size_t width, std::string_view s) {
  if (s.empty()) return;  // data() may be null
  std::memcpy(field, s.data(), std::min(width, s.size()));
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// One pax record "<len> <key>=<value>\n" where <len> counts the whole record.
std::string PaxRecord(std::string_view key, std::string_view value) {
  size_t base = key.size() + value.size() + 3;  // ' ', '=', '\n'
  size_t len = base + 1;
  while (std::to_string(len).size() + base != len) len = std::to_string(len).size() + base;
  return fmt::format("{} {}={}\n", len, key, value);
}

// Builds one 512-byte ustar block.
std::string UstarBlock(std::string_view name, char type, uint64_t size, uint32_t mode, uint64_t uid,
                       uint64_t gid, int64_t mtime, std::string_view link) {
  std::string b(kBlockSize, '\0');
  char* p = b.data();
  PutString(p + 0, 100, name);
  PutOctal(p + 100, 8, mode & 07777);
  PutOctal(p + 108, 8, uid > kMaxOctal7 ? 0 : uid);
  PutOctal(p + 116, 8, gid > kMaxOctal7 ? 0 : gid);
  PutOctal(p + 124, 12, size > kMaxOctal11 ? 0 : size);
  PutOctal(p + 136, 12, static_cast<uint64_t>(mtime) > kMaxOctal11 ? 0 : mtime);
  p[156] = type;
  PutString(p + 157, 100, link);
  std::memcpy(p + 257,
              "ustar\0"
              "00",
              8);
  PutOctal(p + 329, 8, 0);  // devmajor
  PutOctal(p + 337, 8, 0);  // devminor
  std::memset(p + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : b) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  std::memcpy(p + 148, chk, 6);
  p[154] = '\0';
  p[155] = ' ';
  return b;
}

}  // namespace

Result<std::string> EncodeHeader(const Header& h) {
  std::string path = h.path;
  if (path.empty()) return InvalidArgument("tar entry with an empty path");
  if (path.find('\0') != std::string::npos || h.link_target.find('\0') != std::string::npos) {
    return InvalidArgument("tar entry \"" + h.path + "\": NUL byte in a name");
  }
  if (h.mtime < 0) return InvalidArgument("tar entry \"" + h.path + "\": negative mtime");
  if (h.type == WriteType::kDirectory && path.back() != '/') path += '/';
  const uint64_t size = h.type == WriteType::kRegular ? h.size : 0;

  std::string pax;
  if (path.size() > 100 || !IsAscii(path)) pax += PaxRecord("path", path);
  if (h.link_target.size() > 100 || !IsAscii(h.link_target)) {
    pax += PaxRecord("linkpath", h.link_target);
  }
  if (size > kMaxOctal11) pax += PaxRecord("size", std::to_string(size));
  if (h.uid > kMaxOctal7) pax += PaxRecord("uid", std::to_string(h.uid));
  if (h.gid > kMaxOctal7) pax += PaxRecord("gid", std::to_string(h.gid));
  if (static_cast<uint64_t>(h.mtime) > kMaxOctal11) {
    pax += PaxRecord("mtime", std::to_string(h.mtime));
  }

  std::string out;
  if (!pax.empty()) {
    // Name the pax header after the entry's last component, like other writers do.
    std::string_view trimmed = std::string_view(path);
    if (trimmed.back() == '/') trimmed.remove_suffix(1);
    size_t slash = trimmed.rfind('/');
    std::string base(slash == std::string_view::npos ? trimmed : trimmed.substr(slash + 1));
    std::string pax_name = "PaxHeaders/" + base;
    if (pax_name.size() > 100) pax_name.resize(100);
    out += UstarBlock(pax_name, 'x', pax.size(), 0644, 0, 0,
                      std::min<int64_t>(h.mtime, kMaxOctal11), {});
    out += pax;
    out.append(PaddingFor(pax.size()), '\0');
  }
  out += UstarBlock(path.size() > 100 ? std::string_view(path).substr(0, 100) : path,
                    static_cast<char>(h.type), size, h.mode, h.uid, h.gid, h.mtime,
                    h.link_target.size() > 100 ? std::string_view(h.link_target).substr(0, 100)
                                               : std::string_view(h.link_target));
  return out;
}

Result<uint64_t> EntrySize(const Header& h) {
  ASSIGN_OR_RETURN(std::string header, EncodeHeader(h));
  uint64_t size = h.type == WriteType::kRegular ? h.size : 0;
  return header.size() + size + PaddingFor(size);
}

Status Writer::Emit(std::string_view bytes) {
  written_ += bytes.size();
  return out_(bytes);
}

Status Writer::Begin(const Header& h) {
  if (open_) return FailedPrecondition("tar: entry \"" + path_ + "\" was not ended");
  ASSIGN_OR_RETURN(std::string header, EncodeHeader(h));
  RETURN_IF_ERROR(Emit(header));
  path_ = h.path;
  size_ = remaining_ = h.type == WriteType::kRegular ? h.size : 0;
  open_ = true;
  return Status();
}

Status Writer::Data(std::string_view bytes) {
  if (!open_) return FailedPrecondition("tar: data outside an entry");
  if (bytes.size() > remaining_) {
    return FailedPrecondition(fmt::format(
        "tar: file \"{}\" grew past its size {} while it was being written", path_, size_));
  }
  remaining_ -= bytes.size();
  return Emit(bytes);
}

Status Writer::End() {
  if (!open_) return FailedPrecondition("tar: End without Begin");
  if (remaining_ != 0) {
    return FailedPrecondition(
        fmt::format("tar: file \"{}\" shrank: {} of {} bytes missing", path_, remaining_, size_));
  }
  open_ = false;
  static const std::string kZeros(kBlockSize, '\0');
  return Emit(std::string_view(kZeros).substr(0, PaddingFor(size_)));
}

Status Writer::Finish() {
  if (open_) return FailedPrecondition("tar: entry \"" + path_ + "\" was not ended");
  static const std::string kTrailer(kTrailerSize, '\0');
  return Emit(kTrailer);
}

Status Writer::Add(const Header& h, std::string_view data) {
  RETURN_IF_ERROR(Begin(h));
  RETURN_IF_ERROR(Data(data));
  return End();
}

}  // namespace modelcar::tar
