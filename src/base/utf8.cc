#include "base/utf8.h"

namespace modelcar {

size_t FindInvalidUtf8(std::string_view s) {
  return ForEachCodePoint(s, [](char32_t) { return true; });
}

size_t CompleteUtf8Prefix(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    if (ScanUtf8(p + i, s.size() - i, &len) == Utf8Scan::kIncomplete) return i;
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
    if (ScanUtf8(p + i, bytes.size() - i, &len) == Utf8Scan::kValid) {
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

std::string EncodeUtf8(std::u32string_view cps) {
  std::string out;
  out.reserve(cps.size());
  for (char32_t cp : cps) AppendUtf8(cp, &out);
  return out;
}

std::u32string Utf8ToCodePoints(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    if (ScanUtf8(p + i, s.size() - i, &len) == Utf8Scan::kValid) {
      char32_t cp;
      DecodeUtf8(s, i, &cp);
      out.push_back(cp);
      i += len;
    } else {
      out.push_back(0xFFFD);
      ++i;
    }
  }
  return out;
}

}  // namespace modelcar
