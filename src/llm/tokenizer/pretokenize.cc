#include "llm/tokenizer/pretokenize.h"

#include <string>

#include "llm/tokenizer/unicode.h"

namespace modelcar::llm {

const std::string_view kQwen2SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const std::string_view kLlama3SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

Result<SplitPattern> SplitPatternFromRegex(std::string_view regex) {
  if (regex == kQwen2SplitRegex) return SplitPattern::kQwen2;
  if (regex == kLlama3SplitRegex) return SplitPattern::kLlama3;
  return Unimplemented("unsupported pre-tokenizer split pattern: " + std::string(regex) +
                       " (supported: the Qwen2 and Llama 3 patterns)");
}

namespace {

// The text decoded once: class and code point of each character, byte offset of each.
struct Chars {
  std::vector<CharClass> cls;
  std::vector<char32_t> cp;
  std::vector<uint32_t> off;  // size() == cls.size() + 1
};

void Decode(std::string_view text, Chars* c) {
  c->cls.clear();
  c->cp.clear();
  c->off.clear();
  c->cls.reserve(text.size());
  c->cp.reserve(text.size());
  c->off.reserve(text.size() + 1);
  size_t i = 0;
  while (i < text.size()) {
    char32_t cp;
    int len = DecodeUtf8(text, i, &cp);
    c->cls.push_back(ClassOf(cp));
    c->cp.push_back(cp);
    c->off.push_back(static_cast<uint32_t>(i));
    i += static_cast<size_t>(len);
  }
  c->off.push_back(static_cast<uint32_t>(i));
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: returns the match length in characters, 0 if none.
// Case-insensitive as Oniguruma folds: 's' also matches U+017F LATIN SMALL LETTER LONG S.
size_t MatchContraction(const Chars& c, size_t i) {
  size_t n = c.cls.size();
  if (c.cp[i] != U'\'' || i + 1 >= n) return 0;
  auto lower = [&](size_t k) -> char32_t {
    char32_t x = c.cp[k];
    if (x >= U'A' && x <= U'Z') return x + 32;
    if (x == 0x17F) return U's';
    return x;
  };
  char32_t a = lower(i + 1);
  if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
  if (i + 2 >= n) return 0;
  char32_t b = lower(i + 2);
  if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  return 0;
}

}  // namespace

void SplitText(SplitPattern pattern, std::string_view text, std::vector<Piece>* out) {
  thread_local Chars c;  // scratch, reused across calls
  Decode(text, &c);
  const size_t n = c.cls.size();
  const size_t max_digits = pattern == SplitPattern::kLlama3 ? 3 : 1;
  auto is = [&](size_t k, CharClass k_cls) { return k < n && c.cls[k] == k_cls; };
  auto space = [&](size_t k) { return k < n && IsSpace(c.cls[k]); };
  // [^\s\p{L}\p{N}]
  auto other = [&](size_t k) { return is(k, CharClass::kOther); };

  size_t i = 0;
  while (i < n) {
    size_t end = i;  // exclusive, in characters
    CharClass ci = c.cls[i];
    if (size_t m = MatchContraction(c, i); m > 0) {
      end = i + m;
    } else if (ci == CharClass::kLetter || (ci != CharClass::kCrLf && ci != CharClass::kNumber &&
                                            is(i + 1, CharClass::kLetter))) {
      // [^\r\n\p{L}\p{N}]?\p{L}+
      end = ci == CharClass::kLetter ? i : i + 1;
      while (is(end, CharClass::kLetter)) ++end;
    } else if (ci == CharClass::kNumber) {
      // \p{N} or \p{N}{1,3}
      end = i;
      while (end - i < max_digits && is(end, CharClass::kNumber)) ++end;
    } else if (ci == CharClass::kOther || (c.cp[i] == U' ' && other(i + 1))) {
      //  ?[^\s\p{L}\p{N}]+[\r\n]*
      end = ci == CharClass::kOther ? i : i + 1;
      while (other(end)) ++end;
      while (is(end, CharClass::kCrLf)) ++end;
    } else {
      // ci is whitespace. j = end of the whitespace run.
      size_t j = i;
      while (space(j)) ++j;
      size_t last_crlf = n;  // last CR/LF inside [i, j)
      for (size_t k = j; k > i; --k) {
        if (c.cls[k - 1] == CharClass::kCrLf) {
          last_crlf = k - 1;
          break;
        }
      }
      if (last_crlf != n) {
        end = last_crlf + 1;  // \s*[\r\n]+
      } else if (j == n || j - 1 == i) {
        end = j;  // \s+(?!\S) at the end of text, or \s+ for a single space before \S
      } else {
        end = j - 1;  // \s+(?!\S): leave the last space to join the next piece
      }
    }
    out->push_back(Piece{c.off[i], c.off[end]});
    i = end;
  }
}

}  // namespace modelcar::llm
