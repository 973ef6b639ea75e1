// The fast reader of tokenizer.json (see tokenizer_json.h): walks the root object and the model
// object, skips other values by following only strings and brackets, reads model.vocab and
// model.merges (in either order) with a strict reader of their common form, and hands the rest
// of the document (a few KB) to nlohmann with the two replaced by {} and []. Anything it does not
// handle (escaped keys, repeated keys, numbers with a fraction, a merge that is neither "a b" nor
// ["a", "b"], invalid JSON) makes it give up, and ParseTokenizerJson then reads the whole file with
// the general reader, which gives the same result or the error with its JSON path.
#include <optional>
#include <string_view>

#include "base/utf8.h"
#include "llm/tokenizer/tokenizer_json.h"

namespace modelcar::llm {
namespace {

class Reader {
 public:
  Reader(const char* begin, const char* end) : p_(begin), end_(end) {}

  const char* pos() const { return p_; }
  bool AtEnd() const { return p_ == end_; }

  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  // Consumes `c` (after white space).
  bool Take(char c) {
    SkipSpace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool Peek(char c) {
    SkipSpace();
    return p_ != end_ && *p_ == c;
  }

  // A string without escapes (a key), as a view of the text.
  std::optional<std::string_view> PlainString() {
    if (!Take('"')) return std::nullopt;
    const char* start = p_;
    while (p_ != end_ && *p_ != '"') {
      if (*p_ == '\\' || static_cast<unsigned char>(*p_) < 0x20) return std::nullopt;
      ++p_;
    }
    if (p_ == end_) return std::nullopt;
    return std::string_view(start, static_cast<size_t>(p_++ - start));
  }

  // A string, unescaped, appended to `out`; false if it is not valid JSON or not valid UTF-8.
  bool String(std::string* out) {
    if (!Take('"')) return false;
    const char* start = p_;
    while (true) {
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c >= 0x80) {
        size_t len;
        const auto* u = reinterpret_cast<const unsigned char*>(p_);
        if (ScanUtf8(u, static_cast<size_t>(end_ - p_), &len) != Utf8Scan::kValid) return false;
        p_ += len;
        continue;
      }
      if (c >= 0x20 && c != '"' && c != '\\') {
        ++p_;
        continue;
      }
      out->append(start, static_cast<size_t>(p_ - start));
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20 || ++p_ == end_) return false;
      const char e = *p_++;
      if (e != 'u') {  // \" \\ \/ \b \f \n \r \t
        constexpr std::string_view kEscape = "\"\\/bfnrt", kMeaning = "\"\\/\b\f\n\r\t";
        const size_t k = kEscape.find(e);
        if (k == std::string_view::npos) return false;
        out->push_back(kMeaning[k]);
      } else {
        char32_t cp;
        if (!Hex4(&cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone low surrogate
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          char32_t lo;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          if (!Hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        AppendUtf8(cp, out);
      }
      start = p_;
    }
  }

  // An integer without fraction or exponent that fits in int64_t.
  bool Integer(int64_t* v) {
    SkipSpace();
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    const char* start = p_;
    uint64_t n = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9' && p_ - start < 18) n = n * 10 + (*p_++ - '0');
    const auto digits = p_ - start;
    if (digits == 0 || (digits > 1 && *start == '0')) return false;
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E' || (*p_ >= '0' && *p_ <= '9'))) {
      return false;  // a fraction, an exponent, or 18 digits and more: the general reader's job
    }
    *v = negative ? -static_cast<int64_t>(n) : static_cast<int64_t>(n);
    return true;
  }

  // Skips one value of any kind, following only strings and brackets (what it skips is read
  // again by nlohmann, which checks it).
  bool SkipValue() {
    SkipSpace();
    int depth = 0;
    while (p_ != end_) {
      const char c = *p_;
      if (c == '"') {
        for (++p_; p_ != end_ && *p_ != '"'; ++p_) {
          if (*p_ == '\\' && ++p_ == end_) return false;
        }
        if (p_ == end_) return false;
        ++p_;
        if (depth == 0) return true;
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return true;  // the end of the enclosing container: a scalar ended
        if (--depth == 0) {
          ++p_;
          return true;
        }
      } else if (depth == 0 && c == ',') {
        return true;
      }
      ++p_;
    }
    return depth == 0;
  }

 private:
  bool Hex4(char32_t* cp) {
    if (end_ - p_ < 4) return false;
    *cp = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = *p_++;
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return false;
      *cp = *cp << 4 | static_cast<char32_t>(d);
    }
    return true;
  }

  const char* p_;
  const char* end_;
};

TokenizerJson::Span Append(TokenizerJson* out, size_t offset) {
  return {static_cast<uint32_t>(offset), static_cast<uint32_t>(out->strings.size() - offset)};
}

// {"token": id, ...}
bool ReadVocab(Reader& r, TokenizerJson* out) {
  if (!r.Take('{')) return false;
  if (r.Take('}')) return true;
  do {
    const size_t offset = out->strings.size();
    if (!r.String(&out->strings) || !r.Take(':')) return false;
    int64_t id;
    if (!r.Integer(&id)) return false;
    out->vocab.emplace_back(Append(out, offset), id);
  } while (r.Take(','));
  return r.Take('}');
}

// ["a b", ...] or [["a", "b"], ...]
bool ReadMerges(Reader& r, TokenizerJson* out) {
  if (!r.Take('[')) return false;
  if (r.Take(']')) return true;
  do {
    const size_t offset = out->strings.size();
    if (r.Take('[')) {
      if (!r.String(&out->strings) || !r.Take(',')) return false;
      const TokenizerJson::Span a = Append(out, offset);
      const size_t second = out->strings.size();
      if (!r.String(&out->strings) || !r.Take(']')) return false;
      out->merges.emplace_back(a, Append(out, second));
      continue;
    }
    if (!r.String(&out->strings)) return false;
    const std::string_view pair = std::string_view(out->strings).substr(offset);
    const size_t sp = pair.find(' ');
    if (sp == std::string_view::npos || pair.find(' ', sp + 1) != std::string_view::npos) {
      return false;
    }
    out->merges.emplace_back(
        TokenizerJson::Span{static_cast<uint32_t>(offset), static_cast<uint32_t>(sp)},
        TokenizerJson::Span{static_cast<uint32_t>(offset + sp + 1),
                            static_cast<uint32_t>(pair.size() - sp - 1)});
  } while (r.Take(','));
  return r.Take(']');
}

}  // namespace

std::optional<TokenizerJson> ParseTokenizerJsonFast(std::string_view text) {
  if (text.size() >= (uint64_t{1} << 32)) return std::nullopt;
  TokenizerJson out;
  out.Reserve(text.size());
  // [begin, end) of the values of model.vocab and model.merges, read as they are met.
  const char* found[2][2] = {{nullptr, nullptr}, {nullptr, nullptr}};
  Reader r(text.data(), text.data() + text.size());
  if (!r.Take('{')) return std::nullopt;
  bool seen_model = false;
  if (!r.Peek('}')) {
    do {
      auto key = r.PlainString();
      if (!key || !r.Take(':')) return std::nullopt;
      if (*key != "model" || !r.Peek('{')) {
        if (*key == "model" || !r.SkipValue()) return std::nullopt;
        continue;
      }
      if (seen_model) return std::nullopt;
      seen_model = true;
      r.Take('{');
      if (r.Peek('}')) return std::nullopt;
      do {
        auto field = r.PlainString();
        if (!field || !r.Take(':')) return std::nullopt;
        const int which = *field == "vocab" ? 0 : *field == "merges" ? 1 : -1;
        if (which < 0) {
          if (!r.SkipValue()) return std::nullopt;
          continue;
        }
        if (found[which][0] != nullptr) return std::nullopt;
        r.SkipSpace();
        found[which][0] = r.pos();
        if (!(which == 0 ? ReadVocab(r, &out) : ReadMerges(r, &out))) return std::nullopt;
        found[which][1] = r.pos();
      } while (r.Take(','));
      if (!r.Take('}')) return std::nullopt;
    } while (r.Take(','));
  }
  if (!r.Take('}') || (r.SkipSpace(), !r.AtEnd())) return std::nullopt;
  if (found[0][0] == nullptr || found[1][0] == nullptr) return std::nullopt;
  auto size = [&](int which) { return static_cast<size_t>(found[which][1] - found[which][0]); };
  // The rest: the text with the two values (in the order they come) replaced by {} and [].
  const int first = found[0][0] < found[1][0] ? 0 : 1;
  const char* empty[2] = {"{}", "[]"};
  std::string rest;
  rest.reserve(text.size() - size(0) - size(1) + 4);
  rest.append(text.data(), found[first][0]).append(empty[first]);
  rest.append(found[first][1], found[1 - first][0]).append(empty[1 - first]);
  rest.append(found[1 - first][1], text.data() + text.size());
  out.rest = nlohmann::json::parse(rest, nullptr, /*allow_exceptions=*/false);
  if (out.rest.is_discarded()) return std::nullopt;
  out.has_vocab = out.has_merges = true;
  return out;
}

}  // namespace modelcar::llm
