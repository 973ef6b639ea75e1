#include "llm/tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>
#include <string>

namespace modelcar::llm {
namespace {

enum class Scan { kValid, kInvalid, kIncomplete };

// Looks at the sequence starting at p[0] (n > 0 bytes available). Sets *len to the sequence
// length (kValid), the maximal invalid subpart length (kInvalid, >= 1) or the bytes available
// (kIncomplete: a valid prefix cut by the end of input).
Scan ScanOne(const unsigned char* p, size_t n, size_t* len) {
  unsigned char b = p[0];
  if (b < 0x80) {
    *len = 1;
    return Scan::kValid;
  }
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b >= 0xC2 && b <= 0xDF) {
    need = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    *len = 1;
    return Scan::kInvalid;
  }
  for (size_t k = 1; k < need; ++k) {
    if (k >= n) {
      *len = n;
      return Scan::kIncomplete;
    }
    unsigned char c = p[k];
    bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) {
      *len = k;
      return Scan::kInvalid;
    }
  }
  *len = need;
  return Scan::kValid;
}

}  // namespace

CharClass ClassOf(char32_t cp) {
  if (cp < 0x80) {
    if (cp == '\r' || cp == '\n') return CharClass::kCrLf;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::kSpace;
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::kLetter;
    if (cp >= '0' && cp <= '9') return CharClass::kNumber;
    return CharClass::kOther;
  }
  if (cp == 0x85) return CharClass::kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kNumber;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return CharClass::kSpace;
    default:
      return CharClass::kOther;
  }
}

int DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    *cp = b;
    return 1;
  }
  auto c = [&](size_t k) {
    return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F);
  };
  if (b < 0xE0) {
    *cp = (static_cast<char32_t>(b & 0x1F) << 6) | c(1);
    return 2;
  }
  if (b < 0xF0) {
    *cp = (static_cast<char32_t>(b & 0x0F) << 12) | (c(1) << 6) | c(2);
    return 3;
  }
  *cp = (static_cast<char32_t>(b & 0x07) << 18) | (c(1) << 12) | (c(2) << 6) | c(3);
  return 4;
}

bool IsAscii(std::string_view s) {
  for (char ch : s) {
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  }
  return true;
}

Status ValidateUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    if (ScanOne(p + i, s.size() - i, &len) != Scan::kValid) {
      return InvalidArgument("text is not valid UTF-8 (byte offset " + std::to_string(i) + ")");
    }
    i += len;
  }
  return Status();
}

bool IsNfcQuick(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    if (ScanOne(p + i, s.size() - i, &len) != Scan::kValid) return false;
    char32_t cp;
    DecodeUtf8(s, i, &cp);
    i += len;
    bool stable = cp < 0x300 || (cp >= 0x400 && cp <= 0x482) || (cp >= 0x3000 && cp <= 0x3029) ||
                  (cp >= 0x3041 && cp <= 0x3096) || (cp >= 0x30A1 && cp <= 0x30FA) ||
                  (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
                  (cp >= 0xFF01 && cp <= 0xFF5E) || (cp >= 0x1F300 && cp <= 0x1FAFF);
    if (!stable) return false;
  }
  return true;
}

Result<std::string> Nfc(std::string_view s) {
  if (IsNfcQuick(s)) return std::string(s);
  RETURN_IF_ERROR(ValidateUtf8(s));
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) {
    return InvalidArgument(std::string("NFC normalization failed: ") + utf8proc_errmsg(n));
  }
  std::string result(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

size_t CompleteUtf8Prefix(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    if (ScanOne(p + i, s.size() - i, &len) == Scan::kIncomplete) return i;
    i += len;
  }
  return i;
}

void AppendUtf8Lossy(std::string_view bytes, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0, run = 0;  // [run, i) is valid and not yet appended
  while (i < bytes.size()) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    if (ScanOne(p + i, bytes.size() - i, &len) == Scan::kValid) {
      i += len;
      continue;
    }
    out->append(bytes.substr(run, i - run));
    out->append("\xEF\xBF\xBD");  // U+FFFD
    i += len;
    run = i;
  }
  out->append(bytes.substr(run));
}

}  // namespace modelcar::llm
