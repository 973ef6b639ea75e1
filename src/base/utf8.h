// UTF-8 encoding, decoding and validation, one implementation for every module (file names in
// model dirs, the tokenizer, the grammar compiler, the template interpreter, streamed text).
// "Valid" is the Unicode definition: no overlong forms, no surrogates (U+D800..DFFF), nothing above
// U+10FFFF, no truncated sequence. The inline functions are on the tokenizer's hot path. All
// functions are pure and thread-safe.
#ifndef MODELCAR_BASE_UTF8_H_
#define MODELCAR_BASE_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace modelcar {

enum class Utf8Scan { kValid, kInvalid, kIncomplete };

// Looks at the sequence starting at p[0] (n > 0 bytes available). Sets *len to the sequence
// length (kValid, 1-4), the length of the maximal invalid subpart (kInvalid, >= 1) or the bytes
// available (kIncomplete: a valid prefix cut by the end of the input).
inline Utf8Scan ScanUtf8(const unsigned char* p, size_t n, size_t* len) {
  unsigned char b = p[0];
  if (b < 0x80) {
    *len = 1;
    return Utf8Scan::kValid;
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
    return Utf8Scan::kInvalid;
  }
  for (size_t k = 1; k < need; ++k) {
    if (k >= n) {
      *len = n;
      return Utf8Scan::kIncomplete;
    }
    unsigned char c = p[k];
    bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) {
      *len = k;
      return Utf8Scan::kInvalid;
    }
  }
  *len = need;
  return Utf8Scan::kValid;
}

// Appends the UTF-8 encoding of `cp` to `out`: 1 byte up to U+007F, 2 up to U+07FF, 3 up to
// U+FFFF, 4 up to U+10FFFF. Surrogates (U+D800..DFFF) are encoded like any other code point below
// U+10000, as ED A0 80..ED BF BF, which is not valid UTF-8 (utf8proc_encode_char and Python's
// "surrogatepass" do the same): callers that need valid output keep surrogates out. A value above
// U+10FFFF appends U+FFFD (EF BF BD).
inline void AppendUtf8(char32_t cp, std::string* out) {
  auto byte = [](char32_t b) { return static_cast<char>(b); };
  if (cp < 0x80) {
    out->push_back(byte(cp));
  } else if (cp < 0x800) {
    out->push_back(byte(0xC0 | (cp >> 6)));
    out->push_back(byte(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(byte(0xE0 | (cp >> 12)));
    out->push_back(byte(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(byte(0x80 | (cp & 0x3F)));
  } else if (cp <= 0x10FFFF) {
    out->push_back(byte(0xF0 | (cp >> 18)));
    out->push_back(byte(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(byte(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(byte(0x80 | (cp & 0x3F)));
  } else {
    out->append("\xEF\xBF\xBD");  // U+FFFD
  }
}

// The UTF-8 of `cps`, each code point encoded as AppendUtf8 does. Utf8ToCodePoints gives `cps`
// back when it holds no surrogate and nothing above U+10FFFF.
std::string EncodeUtf8(std::u32string_view cps);

// Decodes the code point starting at s[i] and returns its byte length (1-4).
// REQUIRES: s is valid UTF-8 and i < s.size() is the start of a code point.
inline int DecodeUtf8(std::string_view s, size_t i, char32_t* cp) {
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

// Calls `f(cp)` for each code point of `s` in order while `f` returns true. Returns the byte
// offset where it stopped: at an invalid or truncated sequence, or at the code point `f` refused;
// npos when it went through the whole string.
template <typename F>
size_t ForEachCodePoint(std::string_view s, F&& f) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    if (p[i] < 0x80) {  // fast path: ASCII
      if (!f(static_cast<char32_t>(p[i]))) return i;
      ++i;
      continue;
    }
    size_t len;
    if (ScanUtf8(p + i, s.size() - i, &len) != Utf8Scan::kValid) return i;
    char32_t cp;
    DecodeUtf8(s, i, &cp);
    if (!f(cp)) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Byte offset of the first byte that does not start a valid sequence; npos when `s` is valid.
size_t FindInvalidUtf8(std::string_view s);
inline bool IsValidUtf8(std::string_view s) { return FindInvalidUtf8(s) == std::string_view::npos; }

// Length of the longest prefix of `s` that is complete UTF-8 or a maximal invalid subpart, i.e.
// the bytes that can be converted now without waiting for more input: a trailing incomplete but
// so-far valid sequence is excluded.
size_t CompleteUtf8Prefix(std::string_view s);

// Appends `bytes` to `out` as UTF-8, replacing each maximal invalid subpart by U+FFFD (the
// Unicode / WHATWG "replacement of maximal subparts" rule, as Rust's from_utf8_lossy and
// Python's errors="replace" do).
void AppendUtf8Lossy(std::string_view bytes, std::string* out);

// The code points of `s`; each byte that does not start a valid sequence becomes one U+FFFD.
std::u32string Utf8ToCodePoints(std::string_view s);

}  // namespace modelcar

#endif  // MODELCAR_BASE_UTF8_H_
