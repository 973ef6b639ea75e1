#include "llm/grammar/ebnf.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/utf8.h"
#include "llm/grammar/regex.h"

namespace modelcar::llm::grammar {
namespace {

struct Tok {
  enum Kind {
    kIdent,
    kDefine,
    kString,
    kRegex,
    kLParen,
    kRParen,
    kPipe,
    kStar,
    kPlus,
    kQuestion,
    kRepeat,
    kEnd
  } kind;
  std::string text;  // ident name, decoded string bytes, regex pattern
  int min = 0, max = 0;
  int line = 1;
};

struct Bad {
  std::string message;
};

[[noreturn]] void Fail(int line, const std::string& what) {
  throw Bad{fmt::format("grammar: {} (line {})", what, line)};
}

bool IdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

// The tokens of a GBNF grammar (or, with `lark`, a Lark grammar): one Lex* step a token kind,
// each reading from t[i] on and leaving i past what it read.
class Lexer {
 public:
  Lexer(std::string_view t, bool lark) : t_(t), lark_(lark) {}

  std::vector<Tok> Lex() {
    std::vector<Tok> out;
    while (SkipSpaceAndComments()) out.push_back(Next());
    out.push_back({Tok::kEnd, "", 0, 0, line_});
    return out;
  }

 private:
  // Moves past blanks, newlines (counted) and comments; false at the end of the text.
  bool SkipSpaceAndComments() {
    while (i_ < t_.size()) {
      const char c = t_[i_];
      if (c == '\n') {
        ++line_;
        ++i_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++i_;
      } else if (c == '#' || (lark_ && c == '/' && i_ + 1 < t_.size() && t_[i_ + 1] == '/')) {
        while (i_ < t_.size() && t_[i_] != '\n') ++i_;
      } else {
        return true;
      }
    }
    return false;
  }

  Tok Next() {
    const char c = t_[i_];
    Tok k{Tok::kEnd, "", 0, 0, line_};
    if (t_.compare(i_, 3, "::=") == 0) {
      k.kind = Tok::kDefine;
      i_ += 3;
    } else if (lark_ && c == ':') {
      k.kind = Tok::kDefine;
      ++i_;
    } else if (c == '"' || (c == '\'' && !lark_)) {
      LexString(&k);
    } else if (c == '[') {
      LexClass(&k);
    } else if (lark_ && c == '/') {
      LexLarkRegex(&k);
    } else if (c == '{') {
      LexRepeat(&k);
    } else if (std::optional<Tok::Kind> op = Operator(c)) {
      k.kind = *op;
      ++i_;
    } else if (IdentChar(c) || ((c == '?' || c == '!') && lark_)) {
      LexIdent(&k);
    } else {
      Fail(line_, "unexpected character '" + std::string(1, c) + "'");
    }
    return k;
  }

  // The one-character operators; a Lark "?rule" is a name, not an operator.
  std::optional<Tok::Kind> Operator(char c) const {
    switch (c) {
      case '(':
        return Tok::kLParen;
      case ')':
        return Tok::kRParen;
      case '|':
        return Tok::kPipe;
      case '*':
        return Tok::kStar;
      case '+':
        return Tok::kPlus;
      case '?':
        if (lark_ && i_ + 1 < t_.size() && IdentChar(t_[i_ + 1])) return std::nullopt;
        return Tok::kQuestion;
      default:
        return std::nullopt;
    }
  }

  // A quoted literal, its escapes decoded into k->text.
  void LexString(Tok* k) {
    const char quote = t_[i_++];
    k->kind = Tok::kString;
    while (true) {
      if (i_ >= t_.size() || t_[i_] == '\n') Fail(line_, "unterminated string");
      char d = t_[i_++];
      if (d == quote) break;
      if (d != '\\') {
        k->text.push_back(d);
        continue;
      }
      if (i_ >= t_.size()) Fail(line_, "unterminated string");
      AppendEscape(t_[i_++], &k->text);
    }
    if (lark_ && i_ < t_.size() && t_[i_] == 'i') {
      Fail(line_, "case-insensitive strings are not supported");
    }
  }

  // The escape `e` (after its backslash; \x, \u and \U read their hex digits from t[i]).
  void AppendEscape(char e, std::string* text) {
    // GBNF's escapes (\0, \xHH, ...); template/lexer.cc reads Python's, another set in a module
    // this one may not use.
    switch (e) {
      case 'n':
        *text += '\n';
        break;
      case 't':
        *text += '\t';
        break;
      case 'r':
        *text += '\r';
        break;
      case '0':
        *text += '\0';
        break;
      case 'x':
      case 'u':
      case 'U': {
        int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (int d2 = 0; d2 < digits; ++d2, ++i_) {
          char h = i_ < t_.size() ? t_[i_] : '\0';
          int x = h >= '0' && h <= '9'   ? h - '0'
                  : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                         : -1;
          if (x < 0) Fail(line_, "bad escape in string");
          v = v * 16 + x;
        }
        if (e == 'x') {
          text->push_back(char(v));
        } else {
          // Beyond Unicode: an error, as in a regex (AppendUtf8 would write U+FFFD).
          if (v > 0x10FFFF) Fail(line_, "code point out of range in string");
          AppendUtf8(v, text);
        }
        break;
      }
      default:
        *text += e;
        break;
    }
  }

  // A character class: passed to the regex reader as is.
  void LexClass(Tok* k) {
    k->kind = Tok::kRegex;
    size_t j = i_ + 1;
    if (j < t_.size() && t_[j] == '^') ++j;
    if (j < t_.size() && t_[j] == ']') ++j;
    while (j < t_.size() && t_[j] != ']') {
      if (t_[j] == '\\') ++j;
      if (j < t_.size() && t_[j] == '\n') Fail(line_, "unterminated character class");
      ++j;
    }
    if (j >= t_.size()) Fail(line_, "unterminated character class");
    k->text = std::string(t_.substr(i_, j + 1 - i_));
    i_ = j + 1;
  }

  // Lark's /regex/ (without flags).
  void LexLarkRegex(Tok* k) {
    k->kind = Tok::kRegex;
    size_t j = i_ + 1;
    while (j < t_.size() && t_[j] != '/') {
      if (t_[j] == '\\') ++j;
      if (j < t_.size() && t_[j] == '\n') Fail(line_, "unterminated regex");
      ++j;
    }
    if (j >= t_.size()) Fail(line_, "unterminated regex");
    k->text = std::string(t_.substr(i_ + 1, j - i_ - 1));
    i_ = j + 1;
    if (i_ < t_.size() && (t_[i_] >= 'a' && t_[i_] <= 'z')) {
      Fail(line_, "regex flags are not supported");
    }
  }

  // {m}, {m,}, {m,n} and {,n}.
  void LexRepeat(Tok* k) {
    k->kind = Tok::kRepeat;
    size_t j = i_ + 1;
    std::string a, b;
    bool comma = false;
    for (; j < t_.size() && t_[j] != '}'; ++j) {
      if (t_[j] == ',') {
        comma = true;
      } else if (t_[j] >= '0' && t_[j] <= '9') {
        (comma ? b : a).push_back(t_[j]);
      } else if (t_[j] != ' ') {
        Fail(line_, "bad {m,n} repetition");
      }
    }
    if (j >= t_.size() || (a.empty() && !comma)) Fail(line_, "bad {m,n} repetition");
    if (a.size() > 6 || b.size() > 6) Fail(line_, "repetition count too large");
    k->min = a.empty() ? 0 : std::stoi(a);
    k->max = comma ? (b.empty() ? -1 : std::stoi(b)) : k->min;
    if (k->max >= 0 && k->max < k->min) Fail(line_, "{m,n} with n < m");
    if (k->min > 1000 || k->max > 1000) Fail(line_, "repetition count above 1000");
    i_ = j + 1;
  }

  // A rule name (Lark: "?name" and "!name" too, and a priority ".2" dropped).
  void LexIdent(Tok* k) {
    const char c = t_[i_];
    k->kind = Tok::kIdent;
    if (c == '?' || c == '!') ++i_;
    size_t j = i_;
    while (j < t_.size() && IdentChar(t_[j])) ++j;
    k->text = std::string(t_.substr(i_, j - i_));
    if (k->text.empty()) Fail(line_, "unexpected character '" + std::string(1, c) + "'");
    i_ = j;
    if (lark_) {
      size_t dot = k->text.find('.');  // Lark rule priority "name.2"
      if (dot != std::string::npos) k->text.resize(dot);
    }
  }

  const std::string_view t_;
  const bool lark_;
  size_t i_ = 0;
  int line_ = 1;
};

std::vector<Tok> Lex(std::string_view t, bool lark) { return Lexer(t, lark).Lex(); }

struct Node {
  enum Kind { kLiteral, kRegex, kRef, kSeq, kAlt, kRepeat } kind = kSeq;
  std::string text;  // literal bytes, regex, rule name
  int line = 0;
  std::vector<std::unique_ptr<Node>> kids;
  int min = 0, max = 0;
};
using NodePtr = std::unique_ptr<Node>;

class Parser {
 public:
  explicit Parser(std::vector<Tok> toks) : t_(std::move(toks)) {}

  std::vector<std::pair<std::string, NodePtr>> Rules() {
    std::vector<std::pair<std::string, NodePtr>> rules;
    while (t_[p_].kind != Tok::kEnd) {
      if (t_[p_].kind != Tok::kIdent || t_[p_ + 1].kind != Tok::kDefine) {
        Fail(t_[p_].line, "expected a rule definition (name ::= ...)");
      }
      std::string name = t_[p_].text;
      p_ += 2;
      rules.emplace_back(name, Alt());
    }
    return rules;
  }

 private:
  bool AtRuleStart() const { return t_[p_].kind == Tok::kIdent && t_[p_ + 1].kind == Tok::kDefine; }

  NodePtr Alt() {
    auto alt = std::make_unique<Node>();
    alt->kind = Node::kAlt;
    alt->kids.push_back(Seq());
    while (t_[p_].kind == Tok::kPipe) {
      ++p_;
      alt->kids.push_back(Seq());
    }
    return alt;
  }

  NodePtr Seq() {
    auto seq = std::make_unique<Node>();
    seq->kind = Node::kSeq;
    while (true) {
      const Tok& k = t_[p_];
      if (k.kind == Tok::kEnd || k.kind == Tok::kPipe || k.kind == Tok::kRParen || AtRuleStart()) {
        break;
      }
      NodePtr atom;
      if (k.kind == Tok::kString || k.kind == Tok::kRegex || k.kind == Tok::kIdent) {
        atom = std::make_unique<Node>();
        atom->kind = k.kind == Tok::kString  ? Node::kLiteral
                     : k.kind == Tok::kRegex ? Node::kRegex
                                             : Node::kRef;
        atom->text = k.text;
        atom->line = k.line;
        ++p_;
      } else if (k.kind == Tok::kLParen) {
        ++p_;
        atom = Alt();
        if (t_[p_].kind != Tok::kRParen) Fail(t_[p_].line, "missing ')'");
        ++p_;
      } else {
        Fail(k.line, "unexpected symbol");
      }
      while (true) {
        const Tok& q = t_[p_];
        int min, max;
        if (q.kind == Tok::kStar) {
          min = 0, max = -1;
        } else if (q.kind == Tok::kPlus) {
          min = 1, max = -1;
        } else if (q.kind == Tok::kQuestion) {
          min = 0, max = 1;
        } else if (q.kind == Tok::kRepeat) {
          min = q.min, max = q.max;
        } else {
          break;
        }
        ++p_;
        auto rep = std::make_unique<Node>();
        rep->kind = Node::kRepeat;
        rep->min = min;
        rep->max = max;
        rep->kids.push_back(std::move(atom));
        atom = std::move(rep);
      }
      seq->kids.push_back(std::move(atom));
    }
    return seq;
  }

  std::vector<Tok> t_;
  size_t p_ = 0;
};

Frag Build(const Node& n, Nfa* nfa, const std::map<std::string, int>& ids) {
  switch (n.kind) {
    case Node::kLiteral:
      return nfa->Literal(n.text);
    case Node::kRegex: {
      auto f = RegexFrag(n.text, nfa);
      if (!f.ok()) Fail(n.line, f.status().message());
      return *f;
    }
    case Node::kRef: {
      auto it = ids.find(n.text);
      if (it == ids.end()) Fail(n.line, "undefined rule '" + n.text + "'");
      return nfa->Call(it->second);
    }
    case Node::kSeq:
    case Node::kAlt: {
      std::vector<Frag> parts;
      for (const auto& k : n.kids) parts.push_back(Build(*k, nfa, ids));
      return n.kind == Node::kSeq ? nfa->Seq(parts) : nfa->Alt(parts);
    }
    case Node::kRepeat: {
      const Node& kid = *n.kids[0];
      return nfa->Repeat([&] { return Build(kid, nfa, ids); }, n.min, n.max);
    }
  }
  return nfa->Empty();
}

}  // namespace

Result<Grammar> EbnfGrammar(std::string_view text) {
  try {
    const bool lark = text.find("::=") == std::string_view::npos;
    Parser parser(Lex(text, lark));
    auto rules = parser.Rules();
    if (rules.empty()) return InvalidArgument("grammar: no rules");
    Grammar g;
    std::map<std::string, int> ids;
    for (const auto& [name, node] : rules) {
      if (ids.count(name)) return InvalidArgument("grammar: rule '" + name + "' defined twice");
      ids[name] = g.AddRule(name);
    }
    const std::string start = lark ? "start" : "root";
    if (!ids.count(start)) {
      return InvalidArgument("grammar: no '" + start + "' rule (the start rule)");
    }
    g.set_root(ids[start]);
    for (const auto& [name, node] : rules) {
      int r = ids[name];
      g.SetBody(r, Build(*node, &g.nfa(r), ids));
    }
    RETURN_IF_ERROR(CheckNoLeftRecursion(g));  // a clear message before Compile's
    return g;
  } catch (const Bad& b) {
    return InvalidArgument(b.message);
  }
}

}  // namespace modelcar::llm::grammar
