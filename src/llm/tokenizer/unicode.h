// Unicode helpers for the tokenizer: the character classes the split patterns use (\p{L}, \p{N},
// \s) and NFC normalization. Character data comes from utf8proc (Debian libutf8proc, Unicode 15);
// UTF-8 decoding, validation and lossy repair are base/utf8.h's. Nothing here keeps state, every
// function is thread-safe.
#ifndef MODELCAR_LLM_TOKENIZER_UNICODE_H_
#define MODELCAR_LLM_TOKENIZER_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/utf8.h"

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

// True if every byte is < 0x80.
bool IsAscii(std::string_view s);

// IsValidUtf8 (base/utf8.h) as a Status: the error gives the byte offset.
Status ValidateUtf8(std::string_view s);

// True only if `s` is valid UTF-8 and certainly in NFC: every code point lies in ranges whose
// characters neither change under NFC nor combine with neighbours (Latin below U+0300,
// Cyrillic letters, kana, CJK ideographs, Hangul syllables, fullwidth forms, emoji). False means
// "unknown": call Nfc. A fast path for the common case; thread-safe.
bool IsNfcQuick(std::string_view s);

// NFC normalization. Fails on malformed UTF-8 (InvalidArgument with the byte offset).
Result<std::string> Nfc(std::string_view s);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_UNICODE_H_
