#include "llm/grammar/regex.h"

#include <fmt/format.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace modelcar::llm::grammar {
namespace {

struct Node {
  enum Kind { kChars, kSeq, kAlt, kRepeat } kind = kSeq;
  CharSet chars;
  std::vector<std::unique_ptr<Node>> kids;
  int min = 0, max = 0;  // kRepeat; max < 0: unbounded
};

using NodePtr = std::unique_ptr<Node>;

class Parser {
 public:
  Parser(std::string_view pattern, const RegexOptions& o) : o_(o) {
    // The pattern as code points (a byte that starts no valid sequence stands for itself).
    for (size_t i = 0; i < pattern.size();) {
      unsigned char c = pattern[i];
      uint32_t cp = c;
      int len = 1;
      if (c >= 0xF0 && i + 3 < pattern.size()) {
        cp = ((c & 7u) << 18) | ((pattern[i + 1] & 0x3Fu) << 12) | ((pattern[i + 2] & 0x3Fu) << 6) |
             (pattern[i + 3] & 0x3Fu);
        len = 4;
      } else if (c >= 0xE0 && i + 2 < pattern.size()) {
        cp = ((c & 0xFu) << 12) | ((pattern[i + 1] & 0x3Fu) << 6) | (pattern[i + 2] & 0x3Fu);
        len = 3;
      } else if (c >= 0xC0 && i + 1 < pattern.size()) {
        cp = ((c & 0x1Fu) << 6) | (pattern[i + 1] & 0x3Fu);
        len = 2;
      }
      cps_.push_back(cp);
      i += len;
    }
  }

  Result<NodePtr> Parse() {
    if (Peek() == '^') ++pos_;
    auto n = ParseAlt();
    if (!n.ok()) return n.status();
    if (pos_ < cps_.size()) return Error("unexpected ')'");
    return n;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument(fmt::format("regex: {} at position {}", what, pos_));
  }
  uint32_t Peek(size_t ahead = 0) const {
    return pos_ + ahead < cps_.size() ? cps_[pos_ + ahead] : 0xFFFFFFFF;
  }
  bool AtEnd() const { return pos_ >= cps_.size(); }

  NodePtr Chars(CharSet s) {
    if (o_.restrict_to) s = s.Minus(o_.restrict_to->Negated());
    auto n = std::make_unique<Node>();
    n->kind = Node::kChars;
    n->chars = std::move(s);
    return n;
  }

  Result<NodePtr> ParseAlt() {
    std::vector<NodePtr> alts;
    while (true) {
      auto seq = ParseSeq();
      if (!seq.ok()) return seq.status();
      alts.push_back(std::move(*seq));
      if (Peek() != '|') break;
      ++pos_;
    }
    if (alts.size() == 1) return std::move(alts[0]);
    auto n = std::make_unique<Node>();
    n->kind = Node::kAlt;
    n->kids = std::move(alts);
    return n;
  }

  Result<NodePtr> ParseSeq() {
    auto seq = std::make_unique<Node>();
    seq->kind = Node::kSeq;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      if (Peek() == '$' && pos_ + 1 == cps_.size()) {
        ++pos_;
        break;
      }
      auto atom = ParseAtom();
      if (!atom.ok()) return atom.status();
      auto rep = ParseQuantifier(std::move(*atom));
      if (!rep.ok()) return rep.status();
      seq->kids.push_back(std::move(*rep));
    }
    return seq;
  }

  Result<NodePtr> ParseQuantifier(NodePtr atom) {
    while (true) {
      int min = -1, max = -1;
      uint32_t c = Peek();
      if (c == '*') {
        min = 0;
        ++pos_;
      } else if (c == '+') {
        min = 1;
        ++pos_;
      } else if (c == '?') {
        min = 0;
        max = 1;
        ++pos_;
      } else if (c == '{' && IsCountedRepeat()) {
        ++pos_;
        auto lo = Number();
        min = lo.value_or(0);
        if (Peek() == ',') {
          ++pos_;
          auto hi = Number();
          max = hi.value_or(-1);
        } else {
          max = min;
        }
        ++pos_;  // '}'
        if (max >= 0 && max < min) return Error("{n,m} with m < n");
        if (min > o_.max_repeat || max > o_.max_repeat) {
          return Error(fmt::format("repetition count above {}", o_.max_repeat));
        }
      } else {
        return atom;
      }
      if (Peek() == '?') ++pos_;  // lazy: the same language
      if (Peek() == '+') return Error("possessive quantifiers are not supported");
      auto n = std::make_unique<Node>();
      n->kind = Node::kRepeat;
      n->min = min;
      n->max = max;
      n->kids.push_back(std::move(atom));
      atom = std::move(n);
    }
  }

  // "{" followed by digits, optional "," digits, "}" (else a literal brace, as in Python).
  bool IsCountedRepeat() const {
    size_t i = pos_ + 1;
    bool digits = false, comma = false;
    for (; i < cps_.size(); ++i) {
      uint32_t c = cps_[i];
      if (c >= '0' && c <= '9') {
        digits = true;
      } else if (c == ',' && !comma) {
        comma = true;
      } else {
        break;
      }
    }
    return i < cps_.size() && cps_[i] == '}' && (digits || comma) && i > pos_ + 1;
  }

  std::optional<int> Number() {
    if (!(Peek() >= '0' && Peek() <= '9')) return std::nullopt;
    int64_t v = 0;
    while (Peek() >= '0' && Peek() <= '9') {
      v = std::min<int64_t>(v * 10 + (Peek() - '0'), 1'000'000'000);
      ++pos_;
    }
    return static_cast<int>(v);
  }

  Result<NodePtr> ParseAtom() {
    uint32_t c = Peek();
    if (c == '(') {
      ++pos_;
      if (Peek() == '?') {
        if (Peek(1) == ':') {
          pos_ += 2;
        } else if (Peek(1) == 'P' && Peek(2) == '<') {
          pos_ += 3;
          while (!AtEnd() && Peek() != '>') ++pos_;
          if (AtEnd()) return Error("unterminated group name");
          ++pos_;
        } else {
          return Error("lookarounds, inline flags and other (?...) groups are not supported");
        }
      }
      auto inner = ParseAlt();
      if (!inner.ok()) return inner.status();
      if (Peek() != ')') return Error("missing ')'");
      ++pos_;
      return inner;
    }
    if (c == '[') return ParseClass();
    if (c == '.') {
      ++pos_;
      return Chars(CharSet::Any().Minus(CharSet::Of('\n', '\n')));
    }
    if (c == '\\') {
      ++pos_;
      CharSet s;
      RETURN_IF_ERROR(Escape(false, &s));
      return Chars(std::move(s));
    }
    if (c == '*' || c == '+' || c == '?') return Error("nothing to repeat");
    if (c == '^' || c == '$') return Error("anchors are only supported at the start and end");
    ++pos_;
    return Chars(CharSet::Of(c, c));
  }

  // After a backslash: one escape into `out`. `in_class`: inside [...].
  Status Escape(bool in_class, CharSet* out) {
    if (AtEnd()) return Error("trailing backslash");
    uint32_t c = cps_[pos_++];
    auto word = CharSet::Of('a', 'z').Add('A', 'Z').Add('0', '9').Add('_', '_');
    auto digit = CharSet::Of('0', '9');
    auto space = CharSet::Of(' ', ' ').Add('\t', '\r');
    switch (c) {
      case 'd':
        *out = digit;
        return Status();
      case 'D':
        *out = digit.Negated();
        return Status();
      case 'w':
        *out = word;
        return Status();
      case 'W':
        *out = word.Negated();
        return Status();
      case 's':
        *out = space;
        return Status();
      case 'S':
        *out = space.Negated();
        return Status();
      case 'n':
        *out = CharSet::Of('\n', '\n');
        return Status();
      case 't':
        *out = CharSet::Of('\t', '\t');
        return Status();
      case 'r':
        *out = CharSet::Of('\r', '\r');
        return Status();
      case 'f':
        *out = CharSet::Of('\f', '\f');
        return Status();
      case 'v':
        *out = CharSet::Of('\v', '\v');
        return Status();
      case '0':
        *out = CharSet::Of(0, 0);
        return Status();
      case 'x':
      case 'u':
      case 'U': {
        int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (int i = 0; i < digits; ++i) {
          uint32_t h = Peek();
          int d = h >= '0' && h <= '9'   ? int(h - '0')
                  : h >= 'a' && h <= 'f' ? int(h - 'a' + 10)
                  : h >= 'A' && h <= 'F' ? int(h - 'A' + 10)
                                         : -1;
          if (d < 0) return Error("bad \\" + std::string(1, char(c)) + " escape");
          v = v * 16 + d;
          ++pos_;
        }
        if (v > 0x10FFFF) return Error("code point out of range");
        *out = CharSet::Of(v, v);
        return Status();
      }
      case 'b':
        if (in_class) {
          *out = CharSet::Of('\b', '\b');
          return Status();
        }
        return Error("word boundaries (\\b) are not supported");
      case 'B':
      case 'A':
      case 'Z':
      case 'z':
        return Error("anchors other than ^ and $ are not supported");
      default:
        if (c >= '1' && c <= '9') return Error("backreferences are not supported");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
          return Error("unknown escape \\" + std::string(1, char(c)));
        }
        *out = CharSet::Of(c, c);
        return Status();
    }
  }

  Result<NodePtr> ParseClass() {
    ++pos_;  // '['
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++pos_;
    }
    CharSet set;
    bool first = true;
    while (true) {
      if (AtEnd()) return Error("unterminated character class");
      uint32_t c = Peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      CharSet item;
      bool single = true;
      uint32_t lo = c;
      if (c == '\\') {
        ++pos_;
        RETURN_IF_ERROR(Escape(true, &item));
        single = item.ranges().size() == 1 && item.ranges()[0].first == item.ranges()[0].second;
        if (single) lo = item.ranges()[0].first;
      } else {
        ++pos_;
        item = CharSet::Of(c, c);
      }
      if (single && Peek() == '-' && Peek(1) != ']' && Peek(1) != 0xFFFFFFFF) {
        ++pos_;
        uint32_t hi = Peek();
        if (hi == '\\') {
          ++pos_;
          CharSet h;
          RETURN_IF_ERROR(Escape(true, &h));
          if (h.ranges().size() != 1 || h.ranges()[0].first != h.ranges()[0].second) {
            return Error("bad range in character class");
          }
          hi = h.ranges()[0].first;
        } else {
          ++pos_;
        }
        if (hi < lo) return Error("bad range in character class");
        item = CharSet::Of(lo, hi);
      }
      set.Add(item);
    }
    return Chars(negate ? set.Negated() : set);
  }

  const RegexOptions& o_;
  std::vector<uint32_t> cps_;
  size_t pos_ = 0;
};

Frag Build(const Node& n, Nfa* nfa) {
  switch (n.kind) {
    case Node::kChars:
      return nfa->Chars(n.chars);
    case Node::kSeq: {
      std::vector<Frag> parts;
      for (const auto& k : n.kids) parts.push_back(Build(*k, nfa));
      return nfa->Seq(parts);
    }
    case Node::kAlt: {
      std::vector<Frag> parts;
      for (const auto& k : n.kids) parts.push_back(Build(*k, nfa));
      return nfa->Alt(parts);
    }
    case Node::kRepeat: {
      const Node& kid = *n.kids[0];
      return nfa->Repeat([&] { return Build(kid, nfa); }, n.min, n.max);
    }
  }
  return nfa->Empty();
}

}  // namespace

Result<Frag> RegexFrag(std::string_view pattern, Nfa* nfa, const RegexOptions& options) {
  Parser p(pattern, options);
  ASSIGN_OR_RETURN(NodePtr root, p.Parse());
  return Build(*root, nfa);
}

}  // namespace modelcar::llm::grammar
