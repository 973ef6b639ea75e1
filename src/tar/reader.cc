#include "tar/reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "base/utf8.h"

namespace modelcar::tar {
namespace {

constexpr size_t kBlock = 512;

uint64_t Padding(uint64_t size) { return (kBlock - size % kBlock) % kBlock; }

// A NUL-terminated (or full-width) string field.
std::string_view Field(const char* p, size_t n) {
  const void* nul = std::memchr(p, 0, n);
  return {p, nul ? static_cast<size_t>(static_cast<const char*>(nul) - p) : n};
}

// Octal (space/NUL padded) or GNU base-256 number. Fails on anything else.
bool ParseNumber(const char* p, size_t n, uint64_t* out) {
  auto u = reinterpret_cast<const unsigned char*>(p);
  if (u[0] & 0x80) {
    if (u[0] != 0x80) return false;  // negative or unknown base-256 form
    uint64_t v = 0;
    for (size_t i = 1; i < n; ++i) {
      if (v >> 56) return false;
      v = (v << 8) | u[i];
    }
    *out = v;
    return true;
  }
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == 0)) ++i;
  if (i == n) {  // all blank: zero
    *out = 0;
    return true;
  }
  uint64_t v = 0;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) return false;
    v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  }
  for (; i < n; ++i) {
    if (p[i] != ' ' && p[i] != 0) return false;
  }
  *out = v;
  return true;
}

bool ChecksumOk(const char* b) {
  uint64_t stored;
  if (!ParseNumber(b + 148, 8, &stored)) return false;
  uint64_t usum = 0;
  int64_t ssum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    bool in_field = i >= 148 && i < 156;
    unsigned char c = in_field ? ' ' : static_cast<unsigned char>(b[i]);
    usum += c;
    ssum += in_field ? ' ' : static_cast<signed char>(b[i]);
  }
  return stored == usum || static_cast<int64_t>(stored) == ssum;
}

bool AllZero(const std::string& b) {
  return std::all_of(b.begin(), b.end(), [](char c) { return c == 0; });
}

std::string Quote(std::string_view s) { return QuoteEntryName(s); }

// The entry type of header type flag `type` (`path` names the entry in the error).
Result<EntryType> EntryTypeOf(char type, const std::string& path) {
  switch (type) {
    case '0':
    case '\0':
    case '7':
      return (!path.empty() && path.back() == '/' && type != '7') ? EntryType::kDirectory
                                                                  : EntryType::kRegular;
    case '1':
      return EntryType::kHardLink;
    case '2':
      return EntryType::kSymlink;
    case '3':
      return EntryType::kCharDevice;
    case '4':
      return EntryType::kBlockDevice;
    case '5':
      return EntryType::kDirectory;
    case '6':
      return EntryType::kFifo;
    default:
      return Unimplemented("tar: unsupported entry type '" + std::string(1, type) + "' for " +
                           Quote(path));
  }
}

// The path of header `b` without a pax or GNU long name: ustar's prefix + "/" + name, or name.
std::string HeaderPath(const char* b, std::string_view name) {
  std::string_view magic(b + 257, 6);
  std::string_view prefix = Field(b + 345, 155);
  if (magic == std::string_view("ustar\0", 6) && !prefix.empty()) {
    return std::string(prefix) + "/" + std::string(name);
  }
  return std::string(name);
}

}  // namespace

std::string QuoteEntryName(std::string_view name) {
  constexpr size_t kMax = 200;
  std::string_view s = name.substr(0, kMax);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    bool c1 = p[i] == 0xC2 && i + 1 < s.size() && p[i + 1] < 0xA0;  // U+0080..U+009F
    if (ScanUtf8(p + i, s.size() - i, &len) == Utf8Scan::kValid && p[i] >= 0x20 && p[i] != 0x7F &&
        !c1) {
      out.append(s.substr(i, len));
      i += len;
      continue;
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02X", p[i]);
    out += hex;
    ++i;
  }
  if (name.size() > kMax) out += "...";
  return out + "\"";
}

std::string_view EntryTypeName(EntryType type) {
  switch (type) {
    case EntryType::kRegular:
      return "regular file";
    case EntryType::kHardLink:
      return "hard link";
    case EntryType::kSymlink:
      return "symlink";
    case EntryType::kCharDevice:
      return "character device";
    case EntryType::kBlockDevice:
      return "block device";
    case EntryType::kDirectory:
      return "directory";
    case EntryType::kFifo:
      return "fifo";
  }
  return "entry";
}

Reader::Reader(Handler* handler, ReaderOptions options) : handler_(handler), options_(options) {
  block_.reserve(kBlock);
}

Status Reader::EmitMeta(std::string_view bytes) { return handler_->Meta(bytes); }

Status Reader::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t take = 0;
    switch (state_) {
      case State::kHeader: {
        take = std::min(kBlock - block_.size(), bytes.size());
        block_.append(bytes.data(), take);
        offset_ += take;
        bytes.remove_prefix(take);
        if (block_.size() == kBlock) {
          RETURN_IF_ERROR(EmitMeta(block_));
          RETURN_IF_ERROR(OnHeaderBlock());
          block_.clear();
        }
        continue;
      }
      case State::kExtension: {
        take = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        ext_.append(bytes.data(), take);
        RETURN_IF_ERROR(EmitMeta(bytes.substr(0, take)));
        remaining_ -= take;
        if (remaining_ == 0) RETURN_IF_ERROR(OnExtensionDone());
        break;
      }
      case State::kData: {
        take = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        RETURN_IF_ERROR(handler_->Data(bytes.substr(0, take)));
        remaining_ -= take;
        if (remaining_ == 0) {
          RETURN_IF_ERROR(handler_->EndEntry());
          remaining_ = Padding(entry_.size);
          state_ = remaining_ ? State::kPadding : State::kHeader;
        }
        break;
      }
      case State::kPadding: {
        take = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        RETURN_IF_ERROR(EmitMeta(bytes.substr(0, take)));
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::kHeader;
        break;
      }
      case State::kTrailing: {
        take = bytes.size();
        trailing_ += take;
        if (trailing_ > options_.max_trailing_bytes) {
          return DataLoss(fmt::format("tar: more than {} bytes after the end-of-archive marker",
                                      options_.max_trailing_bytes));
        }
        RETURN_IF_ERROR(EmitMeta(bytes));
        break;
      }
    }
    offset_ += take;
    bytes.remove_prefix(take);
  }
  return Status();
}

Status Reader::OnHeaderBlock() {
  const char* b = block_.data();
  uint64_t block_offset = offset_ - kBlock;
  if (AllZero(block_)) return OnZeroBlock();
  if (zero_blocks_ != 0) {
    return DataLoss(fmt::format("tar: a single zero block at offset {} followed by more headers",
                                block_offset - kBlock));
  }
  std::string_view name = Field(b, 100);
  if (!ChecksumOk(b)) {
    return DataLoss(
        fmt::format("tar: bad header checksum at offset {} (entry {})", block_offset, Quote(name)));
  }
  uint64_t size = 0, mode = 0, mtime = 0;
  if (!ParseNumber(b + 124, 12, &size) || !ParseNumber(b + 100, 8, &mode) ||
      !ParseNumber(b + 136, 12, &mtime)) {
    return DataLoss(fmt::format("tar: bad numeric field in header of {} at offset {}", Quote(name),
                                block_offset));
  }
  if (!has_next_path_ && !has_next_link_ && !has_next_size_) next_offset_ = block_offset;
  char type = b[156];
  if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
    return BeginExtension(type, size, block_offset);
  }

  ext_type_ = 0;
  Entry e;
  e.path = has_next_path_ ? next_path_ : HeaderPath(b, name);
  e.link_target = has_next_link_ ? next_link_ : std::string(Field(b + 157, 100));
  if (has_next_size_) size = next_size_;
  e.mode = static_cast<uint32_t>(mode & 07777);
  e.mtime = static_cast<int64_t>(mtime);
  e.offset = next_offset_;
  has_next_path_ = has_next_link_ = has_next_size_ = false;
  ASSIGN_OR_RETURN(e.type, EntryTypeOf(type, e.path));
  if (e.type != EntryType::kRegular && size != 0) {
    return DataLoss(fmt::format("tar: {} {} declares {} bytes of data", EntryTypeName(e.type),
                                Quote(e.path), size));
  }
  e.size = size;
  entry_ = std::move(e);
  return StartData();
}

Status Reader::OnZeroBlock() {
  if (has_next_path_ || has_next_link_ || has_next_size_) {
    return DataLoss(
        fmt::format("tar: extended header at offset {} is not followed by an entry", next_offset_));
  }
  if (++zero_blocks_ == 2) state_ = State::kTrailing;
  return Status();
}

Status Reader::BeginExtension(char type, uint64_t size, uint64_t block_offset) {
  uint64_t limit = (type == 'x' || type == 'g') ? options_.max_pax_bytes : options_.max_name_bytes;
  if (size > limit) {
    return ResourceExhausted(
        fmt::format("tar: extended header of {} bytes at offset {} exceeds the limit of {}", size,
                    block_offset, limit));
  }
  ext_type_ = type;
  ext_.clear();
  remaining_ = size;
  pad_after_ext_ = Padding(size);
  state_ = State::kExtension;
  if (size == 0) return OnExtensionDone();
  return Status();
}

Status Reader::StartData() {
  RETURN_IF_ERROR(handler_->BeginEntry(entry_));
  if (entry_.size == 0 || !options_.data_in_stream) {
    RETURN_IF_ERROR(handler_->EndEntry());
    remaining_ = Padding(entry_.size);
    state_ = remaining_ ? State::kPadding : State::kHeader;
    return Status();
  }
  remaining_ = entry_.size;
  state_ = State::kData;
  return Status();
}

Status Reader::OnExtensionDone() {
  remaining_ = pad_after_ext_;
  state_ = remaining_ ? State::kPadding : State::kHeader;
  if (ext_type_ == 'L' || ext_type_ == 'K') {
    std::string v(Field(ext_.data(), ext_.size()));
    if (ext_type_ == 'L') {
      next_path_ = std::move(v);
      has_next_path_ = true;
    } else {
      next_link_ = std::move(v);
      has_next_link_ = true;
    }
    return Status();
  }
  // pax records: "<len> <key>=<value>\n", len counting the whole record.
  std::string_view rest = ext_;
  uint64_t at = next_offset_;
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp > 20) {
      return DataLoss(fmt::format("tar: malformed pax record in header at offset {}", at));
    }
    uint64_t len = 0;
    for (size_t i = 0; i < sp; ++i) {
      if (rest[i] < '0' || rest[i] > '9') {
        return DataLoss(fmt::format("tar: malformed pax record length at offset {}", at));
      }
      len = len * 10 + static_cast<uint64_t>(rest[i] - '0');
    }
    if (len <= sp + 1 || len > rest.size() || rest[len - 1] != '\n') {
      return DataLoss(fmt::format("tar: pax record length out of range at offset {}", at));
    }
    std::string_view rec = rest.substr(sp + 1, len - sp - 2);
    rest.remove_prefix(len);
    size_t eq = rec.find('=');
    if (eq == std::string_view::npos) {
      return DataLoss(fmt::format("tar: pax record without '=' at offset {}", at));
    }
    std::string_view key = rec.substr(0, eq), value = rec.substr(eq + 1);
    if (ext_type_ == 'g') continue;  // global headers: nothing modelcar needs
    if (key.starts_with("GNU.sparse.")) {
      return Unimplemented(
          fmt::format("tar: GNU sparse files are not supported (pax header at offset {})", at));
    }
    if (key == "path") {
      next_path_ = std::string(value);
      has_next_path_ = true;
    } else if (key == "linkpath") {
      next_link_ = std::string(value);
      has_next_link_ = true;
    } else if (key == "size") {
      uint64_t v = 0;
      if (value.empty() || value.size() > 19) {
        return DataLoss(fmt::format("tar: bad pax size at offset {}", at));
      }
      for (char c : value) {
        if (c < '0' || c > '9') return DataLoss(fmt::format("tar: bad pax size at offset {}", at));
        v = v * 10 + static_cast<uint64_t>(c - '0');
      }
      next_size_ = v;
      has_next_size_ = true;
    }
  }
  return Status();
}

Status Reader::Finish() {
  if (state_ == State::kTrailing) return Status();
  bool no_pending = !has_next_path_ && !has_next_link_ && !has_next_size_;
  if (state_ == State::kHeader && block_.empty() && no_pending) {
    return Status();  // no end-of-archive marker: accepted, like GNU tar
  }
  if (state_ == State::kPadding && ext_type_ == 0 && no_pending) {
    // The last entry's padding is missing too: umoci writes such layers. Nothing is lost.
    return Status();
  }
  if (state_ == State::kData) {
    return DataLoss(fmt::format("tar: archive ends inside the data of {}: {} of {} bytes missing",
                                Quote(entry_.path), remaining_, entry_.size));
  }
  return DataLoss(
      fmt::format("tar: archive truncated at offset {} (inside a header or padding)", offset_));
}

}  // namespace modelcar::tar
