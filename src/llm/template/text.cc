#include "llm/template/text.h"

#include <utf8proc.h>

namespace modelcar::tmpl {

int64_t CodePointCount(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsPySpace(char32_t c) {
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x1f:
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

bool IsPyPrintable(char32_t c) {
  if (c == ' ') return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

bool IsUpperCp(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_LU;
}
bool IsLowerCp(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_LL;
}
bool IsCased(char32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
}
bool IsAlphaCp(char32_t c) {
  auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
bool IsDigitCp(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
}
char32_t ToUpperCp(char32_t c) {
  return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(c)));
}
char32_t ToLowerCp(char32_t c) {
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
}

namespace {

// Full (one-to-many) case mappings Python applies from Unicode's SpecialCasing.txt (the common
// unconditional ones).
const char* SpecialUpper(char32_t c) {
  switch (c) {
    case 0xDF:
      return "SS";
    case 0x149:
      return "\u02BCN";
    case 0x1F0:
      return "J\u030C";
    case 0x587:
      return "\u0535\u0552";
    case 0xFB00:
      return "FF";
    case 0xFB01:
      return "FI";
    case 0xFB02:
      return "FL";
    case 0xFB03:
      return "FFI";
    case 0xFB04:
      return "FFL";
    case 0xFB05:
      return "ST";
    case 0xFB06:
      return "ST";
    default:
      return nullptr;
  }
}

const char* SpecialTitle(char32_t c) {
  switch (c) {
    case 0xDF:
      return "Ss";
    case 0x149:
      return "\u02BCN";
    case 0x587:
      return "\u0535\u0582";
    case 0xFB00:
      return "Ff";
    case 0xFB01:
      return "Fi";
    case 0xFB02:
      return "Fl";
    case 0xFB03:
      return "Ffi";
    case 0xFB04:
      return "Ffl";
    case 0xFB05:
      return "St";
    case 0xFB06:
      return "St";
    default:
      return nullptr;
  }
}

void AppendUpper(char32_t c, std::string* out) {
  if (const char* s = SpecialUpper(c)) {
    out->append(s);
  } else {
    AppendUtf8(ToUpperCp(c), out);
  }
}

void AppendTitle(char32_t c, std::string* out) {
  if (const char* s = SpecialTitle(c)) {
    out->append(s);
  } else {
    AppendUtf8(static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(c))), out);
  }
}

// Lowercases u[i] with Python's context rules (final sigma, dotted capital I).
void AppendLower(const std::u32string& u, size_t i, std::string* out) {
  char32_t c = u[i];
  if (c == 0x130) {
    out->append("i\u0307");
    return;
  }
  if (c == 0x3A3) {
    bool before = false, after = false;
    for (size_t k = i; k-- > 0;) {
      if (IsCased(u[k])) {
        before = true;
        break;
      }
      if (utf8proc_category(static_cast<utf8proc_int32_t>(u[k])) != UTF8PROC_CATEGORY_MN) break;
    }
    for (size_t k = i + 1; k < u.size(); ++k) {
      if (IsCased(u[k])) {
        after = true;
        break;
      }
      if (utf8proc_category(static_cast<utf8proc_int32_t>(u[k])) != UTF8PROC_CATEGORY_MN) break;
    }
    AppendUtf8(before && !after ? 0x3C2 : 0x3C3, out);
    return;
  }
  AppendUtf8(ToLowerCp(c), out);
}

}  // namespace

std::string PyUpper(std::string_view s) {
  std::string out;
  for (char32_t c : Utf8ToCodePoints(s)) AppendUpper(c, &out);
  return out;
}

std::string PyLower(std::string_view s) {
  std::u32string u = Utf8ToCodePoints(s);
  std::string out;
  for (size_t i = 0; i < u.size(); ++i) AppendLower(u, i, &out);
  return out;
}

std::string PyCapitalize(std::string_view s) {
  std::u32string u = Utf8ToCodePoints(s);
  std::string out;
  for (size_t i = 0; i < u.size(); ++i) {
    if (i == 0) {
      AppendTitle(u[i], &out);
    } else {
      AppendLower(u, i, &out);
    }
  }
  return out;
}

std::string PyTitle(std::string_view s) {
  std::u32string u = Utf8ToCodePoints(s);
  std::string out;
  bool prev_cased = false;
  for (size_t i = 0; i < u.size(); ++i) {
    char32_t c = u[i];
    if (prev_cased) {
      AppendLower(u, i, &out);
    } else {
      AppendTitle(c, &out);
    }
    prev_cased = IsCased(c);
  }
  return out;
}

std::string JinjaTitle(std::string_view s) {
  // Jinja's title filter: split on runs of [-\s({[<], each piece's first character upper (not
  // titlecase), the rest lower.
  std::u32string u = Utf8ToCodePoints(s);
  auto is_sep = [](char32_t c) {
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || IsPySpace(c);
  };
  std::string out;
  bool word_start = true;
  for (size_t i = 0; i < u.size(); ++i) {
    if (is_sep(u[i])) {
      AppendUtf8(u[i], &out);
      word_start = true;
    } else if (word_start) {
      AppendUpper(u[i], &out);
      word_start = false;
    } else {
      AppendLower(u, i, &out);
    }
  }
  return out;
}

std::string PyStrip(std::string_view s, const std::string* chars, bool left, bool right) {
  std::u32string u = Utf8ToCodePoints(s);
  std::u32string set = chars ? Utf8ToCodePoints(*chars) : std::u32string();
  auto strip = [&](char32_t c) {
    return chars ? set.find(c) != std::u32string::npos : IsPySpace(c);
  };
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && strip(u[b])) ++b;
  if (right)
    while (e > b && strip(u[e - 1])) --e;
  return EncodeUtf8(std::u32string_view(u).substr(b, e - b));
}

std::vector<std::string> PySplit(std::string_view s, const std::string* sep, int64_t maxsplit,
                                 bool from_right) {
  std::vector<std::string> out;
  if (sep) {
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
        size_t at = s.find(*sep, pos);
        if (at == std::string_view::npos) break;
        out.emplace_back(s.substr(pos, at - pos));
        pos = at + sep->size();
      }
      out.emplace_back(s.substr(pos));
    } else {
      size_t end = s.size();
      std::vector<std::string> rev;
      while (maxsplit < 0 || static_cast<int64_t>(rev.size()) < maxsplit) {
        if (end < sep->size()) break;
        size_t at = s.rfind(*sep, end - sep->size());
        if (at == std::string_view::npos) break;
        rev.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
        end = at;
      }
      rev.emplace_back(s.substr(0, end));
      out.assign(rev.rbegin(), rev.rend());
    }
    return out;
  }
  // Whitespace split: runs of whitespace separate, no empty strings.
  std::u32string u = Utf8ToCodePoints(s);
  if (!from_right) {
    size_t i = 0;
    while (i < u.size()) {
      while (i < u.size() && IsPySpace(u[i])) ++i;
      if (i >= u.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
        size_t e = u.size();
        while (e > i && IsPySpace(u[e - 1])) --e;
        out.push_back(EncodeUtf8(std::u32string_view(u).substr(i, e - i)));
        break;
      }
      size_t j = i;
      while (j < u.size() && !IsPySpace(u[j])) ++j;
      out.push_back(EncodeUtf8(std::u32string_view(u).substr(i, j - i)));
      i = j;
    }
    return out;
  }
  std::vector<std::string> rev;
  size_t e = u.size();
  while (e > 0) {
    while (e > 0 && IsPySpace(u[e - 1])) --e;
    if (e == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(rev.size()) >= maxsplit) {
      size_t b = 0;
      while (b < e && IsPySpace(u[b])) ++b;
      rev.push_back(EncodeUtf8(std::u32string_view(u).substr(b, e - b)));
      break;
    }
    size_t b = e;
    while (b > 0 && !IsPySpace(u[b - 1])) --b;
    rev.push_back(EncodeUtf8(std::u32string_view(u).substr(b, e - b)));
    e = b;
  }
  out.assign(rev.rbegin(), rev.rend());
  return out;
}

std::vector<std::string> PySplitLines(std::string_view s) {
  std::u32string u = Utf8ToCodePoints(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < u.size()) {
    char32_t c = u[i];
    bool brk = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || c == 0x1c || c == 0x1d ||
               c == 0x1e || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      ++i;
      continue;
    }
    out.push_back(EncodeUtf8(std::u32string_view(u).substr(start, i - start)));
    i += (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') ? 2 : 1;
    start = i;
  }
  if (start < u.size()) out.push_back(EncodeUtf8(std::u32string_view(u).substr(start)));
  return out;
}

std::string PyReplace(std::string_view s, std::string_view from, std::string_view to,
                      int64_t count) {
  std::string out;
  int64_t done = 0;
  if (from.empty()) {
    std::u32string u = Utf8ToCodePoints(s);
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || done < count) {
        out.append(to);
        ++done;
      }
      if (i < u.size()) AppendUtf8(u[i], &out);
    }
    return out;
  }
  size_t pos = 0;
  while (count < 0 || done < count) {
    size_t at = s.find(from, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos));
    out.append(to);
    pos = at + from.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

}  // namespace modelcar::tmpl
