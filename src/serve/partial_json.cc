#include "serve/partial_json.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "llm/template/value.h"

namespace modelcar::serve {
namespace {

using ojson = nlohmann::ordered_json;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDelimiter(char c) {
  return IsSpace(c) || c == ',' || c == '}' || c == ']' || c == ':' || c == ';';
}

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// Python's json.dumps of a scalar, by the writer tool_parser.cc re-serializes arguments with.
std::string DumpScalar(const ojson& v) { return tmpl::PyJsonDumps(v); }

// The body of an open string (after its quote) cut before an escape or a UTF-8 character that
// has not fully arrived (a \u high surrogate waits for its low half).
std::string_view CompleteStringPrefix(std::string_view body) {
  size_t cut = body.size();
  for (size_t k = 0; k < body.size();) {
    if (body[k] != '\\') {
      ++k;
      continue;
    }
    size_t len = 2;
    if (k + 1 < body.size() && body[k + 1] == 'u') {
      len = 6;
      if (k + 6 <= body.size()) {
        const std::string hex(body.substr(k + 2, 4));
        const unsigned long cp = std::strtoul(hex.c_str(), nullptr, 16);
        if (cp >= 0xD800 && cp <= 0xDBFF) len = 12;
      }
    }
    if (k + len > body.size()) {
      cut = k;
      break;
    }
    k += len;
  }
  body = body.substr(0, cut);
  size_t k = body.size();
  int cont = 0;
  while (k > 0 && cont < 3 && (static_cast<unsigned char>(body[k - 1]) & 0xC0) == 0x80) {
    --k;
    ++cont;
  }
  if (k > 0) {
    const unsigned char lead = static_cast<unsigned char>(body[k - 1]);
    const int need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
    if (need > cont) body = body.substr(0, k - 1);
  }
  return body;
}

}  // namespace

size_t JsonObjectScanner::Feed(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size() && depth_ > 0; ++i) {
    const char c = bytes[i];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      deepest_ = std::max(deepest_, ++depth_);
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

size_t ScanJsonValue(std::string_view text, bool* malformed) {
  if (text.empty()) return std::string_view::npos;
  const char c = text[0];
  if (c == '"') {
    for (size_t i = 1; i < text.size(); ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        return i + 1;
      }
    }
    return std::string_view::npos;
  }
  if (c == '{' || c == '[') {
    JsonObjectScanner scanner;
    const size_t n = scanner.Feed(text.substr(1));
    return n == std::string_view::npos ? n : n + 1;
  }
  if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
    for (size_t i = 1; i < text.size(); ++i) {
      if (IsDelimiter(text[i])) return i;
    }
    return std::string_view::npos;
  }
  *malformed = true;
  return std::string_view::npos;
}

PartialObject ScanPartialObject(std::string_view text) {
  PartialObject out;
  size_t i = SkipSpace(text, 0);
  if (i >= text.size() || text[i] != '{') {
    out.malformed = true;
    return out;
  }
  bool need_comma = false;
  for (++i;;) {
    i = SkipSpace(text, i);
    if (i >= text.size()) return out;
    if (text[i] == '}') {
      out.closed = true;
      out.end = i + 1;
      return out;
    }
    if (need_comma) {
      if (text[i] != ',') break;
      i = SkipSpace(text, i + 1);
      if (i >= text.size()) return out;
    }
    if (text[i] != '"') break;
    const size_t key_len = ScanJsonValue(text.substr(i), &out.malformed);
    if (key_len == std::string_view::npos) return out;
    const ojson key = ojson::parse(text.substr(i, key_len), nullptr, false);
    if (!key.is_string()) break;
    i = SkipSpace(text, i + key_len);
    if (i >= text.size()) return out;
    if (text[i] != ':') break;
    i = SkipSpace(text, i + 1);
    PartialMember m;
    m.key = key.get<std::string>();
    const size_t len = ScanJsonValue(text.substr(i), &out.malformed);
    if (out.malformed) return out;
    if (len == std::string_view::npos) {
      m.value = text.substr(std::min(i, text.size()));
      out.members.push_back(std::move(m));
      return out;
    }
    m.value = text.substr(i, len);
    m.complete = true;
    out.members.push_back(std::move(m));
    i += len;
    need_comma = true;
  }
  out.malformed = true;
  return out;
}

std::string DumpsPrefix(std::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size();) {
    const char c = raw[i];
    if (IsSpace(c)) {
      ++i;
    } else if (c == '{' || c == '[' || c == '}' || c == ']') {
      out += c;
      ++i;
    } else if (c == ':' || c == ',') {
      out += c;
      out += ' ';
      ++i;
    } else {
      bool malformed = false;
      const size_t len = ScanJsonValue(raw.substr(i), &malformed);
      if (malformed) return out;
      if (len == std::string_view::npos) {
        if (c != '"') return out;  // a number or literal may go on
        // An open string: its characters so far, without the closing quote.
        const std::string body(CompleteStringPrefix(raw.substr(i + 1)));
        const ojson s = ojson::parse("\"" + body + "\"", nullptr, false);
        if (s.is_string()) {
          const std::string quoted = DumpScalar(s);
          out.append(quoted, 0, quoted.size() - 1);
        }
        return out;
      }
      const ojson v = ojson::parse(raw.substr(i, len), nullptr, false);
      if (v.is_discarded()) return out;
      out += DumpScalar(v);
      i += len;
    }
  }
  return out;
}

}  // namespace modelcar::serve
