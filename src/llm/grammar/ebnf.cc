#include "llm/grammar/ebnf.h"

#include <fmt/format.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

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

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(char(cp));
  } else if (cp < 0x800) {
    out->push_back(char(0xC0 | (cp >> 6)));
    out->push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(char(0xE0 | (cp >> 12)));
    out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(char(0xF0 | (cp >> 18)));
    out->push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(char(0x80 | (cp & 0x3F)));
  }
}

std::vector<Tok> Lex(std::string_view t, bool lark) {
  std::vector<Tok> out;
  int line = 1;
  size_t i = 0;
  auto ident_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  };
  while (i < t.size()) {
    char c = t[i];
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
      continue;
    }
    if (c == '#' || (lark && c == '/' && i + 1 < t.size() && t[i + 1] == '/')) {
      while (i < t.size() && t[i] != '\n') ++i;
      continue;
    }
    Tok k{Tok::kEnd, "", 0, 0, line};
    if (t.compare(i, 3, "::=") == 0) {
      k.kind = Tok::kDefine;
      i += 3;
    } else if (lark && c == ':') {
      k.kind = Tok::kDefine;
      ++i;
    } else if (c == '"' || (c == '\'' && !lark)) {
      const char quote = c;
      k.kind = Tok::kString;
      ++i;
      while (true) {
        if (i >= t.size() || t[i] == '\n') Fail(line, "unterminated string");
        char d = t[i++];
        if (d == quote) break;
        if (d != '\\') {
          k.text.push_back(d);
          continue;
        }
        if (i >= t.size()) Fail(line, "unterminated string");
        char e = t[i++];
        // GBNF's escapes (\0, \xHH, ...); template/lexer.cc reads Python's, another set in a module
        // this one may not use.
        switch (e) {
          case 'n':
            k.text += '\n';
            break;
          case 't':
            k.text += '\t';
            break;
          case 'r':
            k.text += '\r';
            break;
          case '0':
            k.text += '\0';
            break;
          case 'x':
          case 'u':
          case 'U': {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t v = 0;
            for (int d2 = 0; d2 < digits; ++d2, ++i) {
              char h = i < t.size() ? t[i] : '\0';
              int x = h >= '0' && h <= '9'   ? h - '0'
                      : h >= 'a' && h <= 'f' ? h - 'a' + 10
                      : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                             : -1;
              if (x < 0) Fail(line, "bad escape in string");
              v = v * 16 + x;
            }
            if (e == 'x') {
              k.text.push_back(char(v));
            } else {
              AppendUtf8(v, &k.text);
            }
            break;
          }
          default:
            k.text += e;
            break;
        }
      }
      if (lark && i < t.size() && t[i] == 'i')
        Fail(line, "case-insensitive strings are not supported");
    } else if (c == '[') {
      // A character class: passed to the regex reader as is.
      k.kind = Tok::kRegex;
      size_t j = i + 1;
      if (j < t.size() && t[j] == '^') ++j;
      if (j < t.size() && t[j] == ']') ++j;
      while (j < t.size() && t[j] != ']') {
        if (t[j] == '\\') ++j;
        if (j < t.size() && t[j] == '\n') Fail(line, "unterminated character class");
        ++j;
      }
      if (j >= t.size()) Fail(line, "unterminated character class");
      k.text = std::string(t.substr(i, j + 1 - i));
      i = j + 1;
    } else if (lark && c == '/') {
      k.kind = Tok::kRegex;
      size_t j = i + 1;
      while (j < t.size() && t[j] != '/') {
        if (t[j] == '\\') ++j;
        if (j < t.size() && t[j] == '\n') Fail(line, "unterminated regex");
        ++j;
      }
      if (j >= t.size()) Fail(line, "unterminated regex");
      k.text = std::string(t.substr(i + 1, j - i - 1));
      i = j + 1;
      while (i < t.size() && (t[i] >= 'a' && t[i] <= 'z')) {
        Fail(line, "regex flags are not supported");
      }
    } else if (c == '(') {
      k.kind = Tok::kLParen;
      ++i;
    } else if (c == ')') {
      k.kind = Tok::kRParen;
      ++i;
    } else if (c == '|') {
      k.kind = Tok::kPipe;
      ++i;
    } else if (c == '*') {
      k.kind = Tok::kStar;
      ++i;
    } else if (c == '+') {
      k.kind = Tok::kPlus;
      ++i;
    } else if (c == '?' && !(lark && i + 1 < t.size() && ident_char(t[i + 1]))) {
      k.kind = Tok::kQuestion;
      ++i;
    } else if (c == '{') {
      k.kind = Tok::kRepeat;
      size_t j = i + 1;
      std::string a, b;
      bool comma = false;
      for (; j < t.size() && t[j] != '}'; ++j) {
        if (t[j] == ',') {
          comma = true;
        } else if (t[j] >= '0' && t[j] <= '9') {
          (comma ? b : a).push_back(t[j]);
        } else if (t[j] != ' ') {
          Fail(line, "bad {m,n} repetition");
        }
      }
      if (j >= t.size() || (a.empty() && !comma)) Fail(line, "bad {m,n} repetition");
      if (a.size() > 6 || b.size() > 6) Fail(line, "repetition count too large");
      k.min = a.empty() ? 0 : std::stoi(a);
      k.max = comma ? (b.empty() ? -1 : std::stoi(b)) : k.min;
      if (k.max >= 0 && k.max < k.min) Fail(line, "{m,n} with n < m");
      if (k.min > 1000 || k.max > 1000) Fail(line, "repetition count above 1000");
      i = j + 1;
    } else if (ident_char(c) || ((c == '?' || c == '!') && lark)) {
      k.kind = Tok::kIdent;
      if (c == '?' || c == '!') ++i;
      size_t j = i;
      while (j < t.size() && ident_char(t[j])) ++j;
      k.text = std::string(t.substr(i, j - i));
      if (k.text.empty()) Fail(line, "unexpected character '" + std::string(1, c) + "'");
      i = j;
      if (lark) {
        size_t dot = k.text.find('.');  // Lark rule priority "name.2"
        if (dot != std::string::npos) k.text.resize(dot);
      }
    } else {
      Fail(line, "unexpected character '" + std::string(1, c) + "'");
    }
    out.push_back(std::move(k));
  }
  out.push_back({Tok::kEnd, "", 0, 0, line});
  return out;
}

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
