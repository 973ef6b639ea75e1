// Unicode helpers for the tokenizer: UTF-8 decoding, the character classes the split patterns
// use (\p{L}, \p{N}, \s), NFC normalization and lossy UTF-8 repair. Character data comes from
// utf8proc (Debian libutf8proc, Unicode 15); nothing here keeps state, every function is
// thread-safe.
#ifndef MODELCAR_LLM_TOKENIZER_UNICODE_H_
#define MODELCAR_LLM_TOKENIZER_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::llm {

// The classes a pre-tokenizer split pattern distinguishes. kCrLf ('\r', '\n') is also
// whitespace; IsSpace() covers both.
enum class CharClass : uint8_t {
  kLetter,  // \p{L}: Lu Ll Lt Lm Lo
  kNumber,  // \p{N}: Nd Nl No
  kCrLf,    // '\r' or '\n'
  kSpace,   // \s other than CR/LF: Unicode White_Space (Zs, Zl, Zp, U+0009-000D, U+0085)
  kOther,   // everything else
};

inline bool IsSpace(CharClass c) { return c == CharClass::kCrLf || c == CharClass::kSpace; }

// Class of one code point.
CharClass ClassOf(char32_t cp);

// Decodes the code point starting at s[i] and returns its byte length (1-4).
// REQUIRES: s is valid UTF-8 and i < s.size() is the start of a code point.
int DecodeUtf8(std::string_view s, size_t i, char32_t* cp);

// True if every byte is < 0x80.
bool IsAscii(std::string_view s);

// Checks that `s` is well-formed UTF-8 (no overlong forms, surrogates or values > U+10FFFF).
// The error gives the byte offset.
Status ValidateUtf8(std::string_view s);

// True only if `s` is valid UTF-8 and certainly in NFC: every code point lies in ranges whose
// characters neither change under NFC nor combine with neighbours (Latin below U+0300,
// Cyrillic letters, kana, CJK ideographs, Hangul syllables, fullwidth forms, emoji). False means
// "unknown": call Nfc. A fast path for the common case; thread-safe.
bool IsNfcQuick(std::string_view s);

// NFC normalization. Fails on malformed UTF-8 (InvalidArgument with the byte offset).
Result<std::string> Nfc(std::string_view s);

// Length of the longest prefix of `s` that is complete UTF-8 or a maximal invalid subpart, i.e.
// the bytes that can be converted now without waiting for more input: a trailing incomplete but
// so-far valid sequence is excluded.
size_t CompleteUtf8Prefix(std::string_view s);

// Appends `bytes` to `out` as UTF-8, replacing each maximal invalid subpart by U+FFFD (the
// Unicode / WHATWG "replacement of maximal subparts" rule, as Rust's from_utf8_lossy and
// Python's errors="replace" do).
void AppendUtf8Lossy(std::string_view bytes, std::string* out);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_UNICODE_H_
