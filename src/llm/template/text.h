// UTF-8 helpers with Python str semantics for the template interpreter: code point access (Python
// indexes strings by code point), case mapping and character classes (via utf8proc).
//
// Decoding and encoding are base/utf8.h's (Utf8ToCodePoints: each invalid byte becomes U+FFFD;
// AppendUtf8/EncodeUtf8: a lone surrogate is written as its three bytes, as utf8proc did, a value
// above U+10FFFF as U+FFFD). All functions are pure and thread-safe.
#ifndef MODELCAR_LLM_TEMPLATE_TEXT_H_
#define MODELCAR_LLM_TEMPLATE_TEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/utf8.h"

namespace modelcar::tmpl {

// Number of code points.
int64_t CodePointCount(std::string_view s);

// Python str.isspace() for one code point.
bool IsPySpace(char32_t c);
// Python str.isprintable() for one code point.
bool IsPyPrintable(char32_t c);
bool IsCased(char32_t c);
bool IsUpperCp(char32_t c);
bool IsLowerCp(char32_t c);
bool IsAlphaCp(char32_t c);
bool IsDigitCp(char32_t c);
char32_t ToUpperCp(char32_t c);
char32_t ToLowerCp(char32_t c);

std::string PyUpper(std::string_view s);
std::string PyLower(std::string_view s);
// str.capitalize(): first character upper, the rest lower.
std::string PyCapitalize(std::string_view s);
// str.title(): a cased character after an uncased one is upper, others lower.
std::string PyTitle(std::string_view s);
// Jinja's `title` filter (differs from str.title: words split at - ( { [ < and whitespace).
std::string JinjaTitle(std::string_view s);
// str.strip/lstrip/rstrip(chars); `chars` == nullptr strips whitespace.
std::string PyStrip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split(sep, maxsplit) / rsplit. `sep` == nullptr splits on whitespace runs.
std::vector<std::string> PySplit(std::string_view s, const std::string* sep, int64_t maxsplit,
                                 bool from_right);
// str.splitlines() (keepends=False).
std::vector<std::string> PySplitLines(std::string_view s);
// str.replace(old, new, count); count < 0 replaces all.
std::string PyReplace(std::string_view s, std::string_view from, std::string_view to,
                      int64_t count);

}  // namespace modelcar::tmpl

#endif  // MODELCAR_LLM_TEMPLATE_TEXT_H_
