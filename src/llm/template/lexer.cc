#include "llm/template/lexer.h"

#include <fmt/format.h>

#include <cctype>

#include "llm/template/text.h"

namespace modelcar::tmpl {
namespace {

// Python's "\s" over the text that precedes a tag (ASCII and common Unicode whitespace).
std::string RStripPy(std::string_view s) {
  std::u32string u = Utf8ToCodePoints(s);
  size_t e = u.size();
  while (e > 0 && IsPySpace(u[e - 1])) --e;
  return EncodeUtf8(std::u32string_view(u).substr(0, e));
}

bool AllPySpace(std::string_view s) {
  if (s.empty()) return false;
  for (char32_t c : Utf8ToCodePoints(s))
    if (!IsPySpace(c)) return false;
  return true;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Python "unicode-escape" decoding of a string literal body.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c != '\\' || i + 1 >= s.size()) {
      out.push_back(c);
      continue;
    }
    char n = s[++i];
    switch (n) {
      case '\n':
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
      case 'u':
      case 'U': {
        size_t digits = n == 'x' ? 2 : n == 'u' ? 4 : 8;
        char32_t cp = 0;
        bool ok = true;
        for (size_t k = 1; ok && k <= digits; ++k) {
          if (i + k >= s.size() || HexVal(s[i + k]) < 0) {
            ok = false;
          } else {
            cp = cp * 16 + static_cast<char32_t>(HexVal(s[i + k]));
          }
        }
        if (ok) {
          AppendUtf8(cp, &out);
          i += digits;
        } else {
          out.push_back('\\');
          out.push_back(n);
        }
        break;
      }
      default:
        if (n >= '0' && n <= '7') {
          int v = n - '0';
          for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k)
            v = v * 8 + (s[++i] - '0');
          AppendUtf8(static_cast<char32_t>(v), &out);
        } else {
          out.push_back('\\');
          out.push_back(n);
        }
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& o) : src_(std::move(src)), opts_(o) {}

  Result<std::vector<Token>> Run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t at = FindTagStart(pos_);
      std::string text = src_.substr(pos_, at == std::string::npos ? std::string::npos : at - pos_);
      if (at == std::string::npos) {
        Emit(Token::Type::kText, std::move(text), pos_);
        pos_ = src_.size();
        break;
      }
      char kind = src_[at + 1];  // '{', '%' or '#'
      size_t after = at + 2;
      char ws = after < src_.size() && (src_[after] == '-' || src_[after] == '+') ? src_[after] : 0;
      bool is_raw = kind == '%' && IsRawStart(after + (ws ? 1 : 0));
      if (ws == '-') {
        text = RStripPy(text);
      } else if (ws != '+' && opts_.lstrip_blocks && kind != '{') {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting) && AllPySpace(std::string_view(text).substr(l_pos))) {
          text.resize(l_pos);
        }
      }
      size_t text_start = pos_;
      Emit(Token::Type::kText, std::move(text), text_start);
      pos_ = after + (ws ? 1 : 0);
      if (kind == '#') {
        RETURN_IF_ERROR(Comment(at));
      } else if (is_raw) {
        RETURN_IF_ERROR(Raw(at));
      } else {
        RETURN_IF_ERROR(Tag(kind == '{', at));
      }
      line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
    }
    tokens_.push_back({Token::Type::kEof, "", LineAt(src_.size())});
    return std::move(tokens_);
  }

 private:
  size_t FindTagStart(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    }
    return std::string::npos;
  }

  int LineAt(size_t pos) {
    while (line_pos_ < pos && line_pos_ < src_.size()) {
      if (src_[line_pos_] == '\n') ++line_;
      ++line_pos_;
    }
    return line_;
  }

  void Emit(Token::Type t, std::string text, size_t pos) {
    if (t == Token::Type::kText && text.empty()) return;
    tokens_.push_back({t, std::move(text), LineAt(pos)});
  }

  Status Error(size_t pos, const std::string& msg) {
    return InvalidArgument(fmt::format("line {}: {}", LineAt(pos), msg));
  }

  // After a block end "%}": trim_blocks eats one newline.
  void AfterBlockEnd(char ws) {
    if (ws == '-') {
      SkipAllSpace();
    } else if (ws != '+' && opts_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
  }

  void SkipAllSpace() {
    while (pos_ < src_.size() && std::isspace(static_cast<unsigned char>(src_[pos_]))) ++pos_;
  }

  Status Comment(size_t start) {
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) return Error(start, "unterminated comment");
    char ws = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    pos_ = end + 2;
    AfterBlockEnd(ws);
    return Status();
  }

  bool IsRawStart(size_t p) const {
    while (p < src_.size() && std::isspace(static_cast<unsigned char>(src_[p]))) ++p;
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    while (p < src_.size() && std::isspace(static_cast<unsigned char>(src_[p]))) ++p;
    return src_.compare(p, 2, "%}") == 0 || src_.compare(p, 3, "-%}") == 0;
  }

  Status Raw(size_t start) {
    // Skip "raw" and the tag end.
    size_t close = src_.find("%}", pos_);
    bool strip_after = close > 0 && src_[close - 1] == '-';
    pos_ = close + 2;
    if (strip_after) SkipAllSpace();
    // Find "{%[-+]? endraw [-+]?%}".
    for (size_t i = src_.find("{%", pos_); i != std::string::npos; i = src_.find("{%", i + 1)) {
      size_t p = i + 2;
      char ws = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p++] : 0;
      while (p < src_.size() && std::isspace(static_cast<unsigned char>(src_[p]))) ++p;
      if (src_.compare(p, 6, "endraw") != 0) continue;
      p += 6;
      while (p < src_.size() && std::isspace(static_cast<unsigned char>(src_[p]))) ++p;
      char end_ws = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) end_ws = src_[p++];
      if (src_.compare(p, 2, "%}") != 0) continue;
      std::string body = src_.substr(pos_, i - pos_);
      if (ws == '-') body = RStripPy(body);
      Emit(Token::Type::kText, std::move(body), pos_);
      pos_ = p + 2;
      AfterBlockEnd(end_ws);
      return Status();
    }
    return Error(start, "unclosed 'raw' block (missing {% endraw %})");
  }

  Status Tag(bool is_var, size_t start) {
    Emit(is_var ? Token::Type::kVarBegin : Token::Type::kBlockBegin, "", start);
    int depth = 0;
    while (true) {
      while (pos_ < src_.size() && std::isspace(static_cast<unsigned char>(src_[pos_]))) ++pos_;
      if (pos_ >= src_.size()) {
        return Error(start, is_var ? "unterminated '{{' (missing '}}')"
                                   : "unterminated '{%' (missing '%}')");
      }
      if (depth == 0) {
        std::string_view rest = std::string_view(src_).substr(pos_);
        char ws = (rest[0] == '-' || rest[0] == '+') ? rest[0] : 0;
        std::string_view r2 = ws ? rest.substr(1) : rest;
        if (is_var && ws != '+' && r2.starts_with("}}")) {
          Emit(Token::Type::kVarEnd, "", pos_);
          pos_ += (ws ? 1 : 0) + 2;
          if (ws == '-') SkipAllSpace();
          return Status();
        }
        if (!is_var && r2.starts_with("%}")) {
          Emit(Token::Type::kBlockEnd, "", pos_);
          pos_ += (ws ? 1 : 0) + 2;
          AfterBlockEnd(ws);
          return Status();
        }
      }
      RETURN_IF_ERROR(Operand(&depth));
    }
  }

  Status Operand(int* depth) {
    size_t p = pos_;
    char c = src_[p];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t e = p;
      while (e < src_.size() &&
             (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_'))
        ++e;
      Emit(Token::Type::kName, src_.substr(p, e - p), p);
      pos_ = e;
      return Status();
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t e = p;
      auto digits = [&] {
        while (e < src_.size() &&
               (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_'))
          ++e;
      };
      digits();
      bool is_float = false;
      if (e + 1 < src_.size() && src_[e] == '.' &&
          std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
        is_float = true;
        ++e;
        digits();
      }
      if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
        size_t k = e + 1;
        if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
        if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
          is_float = true;
          e = k;
          digits();
        }
      }
      std::string num;
      for (size_t i = p; i < e; ++i)
        if (src_[i] != '_') num.push_back(src_[i]);
      Emit(is_float ? Token::Type::kFloat : Token::Type::kInt, std::move(num), p);
      pos_ = e;
      return Status();
    }
    if (c == '\'' || c == '"') {
      size_t e = p + 1;
      while (e < src_.size() && src_[e] != c) e += src_[e] == '\\' ? 2 : 1;
      if (e >= src_.size()) return Error(p, "unterminated string literal");
      Emit(Token::Type::kString, Unescape(std::string_view(src_).substr(p + 1, e - p - 1)), p);
      pos_ = e + 1;
      return Status();
    }
    static const char* kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                 "/",  "%",  "~",  "<",  ">",  "=",  ".", ",", ":",
                                 "|",  "(",  ")",  "[",  "]",  "{",  "}", ";"};
    for (const char* op : kOps) {
      std::string_view o(op);
      if (src_.compare(p, o.size(), o) == 0) {
        if (o == "(" || o == "[" || o == "{") ++*depth;
        if ((o == ")" || o == "]" || o == "}") && *depth > 0) --*depth;
        Emit(Token::Type::kOp, std::string(o), p);
        pos_ = p + o.size();
        return Status();
      }
    }
    return Error(p, std::string("unexpected character '") + c + "' in tag");
  }

  std::string src_;
  LexOptions opts_;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
  int line_ = 1;
  size_t line_pos_ = 0;
};

// Jinja normalizes newlines to "\n" and drops one trailing newline (keep_trailing_newline=False).
std::string Normalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

Result<std::vector<Token>> Lex(std::string_view source, const LexOptions& options) {
  return Lexer(Normalize(source), options).Run();
}

}  // namespace modelcar::tmpl
