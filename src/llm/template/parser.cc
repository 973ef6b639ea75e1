#include "llm/template/parser.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <initializer_list>
#include <string_view>

#include "llm/template/builtins.h"

namespace modelcar::tmpl {
namespace {

using T = Token::Type;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& t) : toks_(t) {}

  Result<Body> Run() {
    Body body;
    std::string end;
    RETURN_IF_ERROR(ParseBody(&body, {}, &end));
    return body;
  }

 private:
  const Token& Cur() const { return toks_[pos_]; }
  const Token& Peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  bool IsOp(std::string_view op) const { return Cur().type == T::kOp && Cur().text == op; }
  bool IsName(std::string_view n) const { return Cur().type == T::kName && Cur().text == n; }
  bool SkipOp(std::string_view op) {
    if (!IsOp(op)) return false;
    ++pos_;
    return true;
  }
  bool SkipName(std::string_view n) {
    if (!IsName(n)) return false;
    ++pos_;
    return true;
  }

  Status Error(const std::string& msg) const {
    return InvalidArgument("line " + std::to_string(Cur().line) + ": " + msg);
  }
  std::string Describe(const Token& t) const {
    switch (t.type) {
      case T::kEof:
        return "end of template";
      case T::kVarEnd:
        return "'}}'";
      case T::kBlockEnd:
        return "'%}'";
      case T::kVarBegin:
        return "'{{'";
      case T::kBlockBegin:
        return "'{%'";
      case T::kText:
        return "template data";
      case T::kString:
        return "string";
      default:
        return "'" + t.text + "'";
    }
  }
  Status Expect(std::string_view op) {
    if (SkipOp(op)) return Status();
    return Error("expected '" + std::string(op) + "', got " + Describe(Cur()));
  }
  Status ExpectBlockEnd(std::string_view what) {
    if (Cur().type == T::kBlockEnd) {
      ++pos_;
      return Status();
    }
    return Error("expected '%}' to close '" + std::string(what) + "', got " + Describe(Cur()));
  }
  Result<std::string> ExpectName(std::string_view what) {
    if (Cur().type != T::kName)
      return Error("expected " + std::string(what) + ", got " + Describe(Cur()));
    return toks_[pos_++].text;
  }

  static ExprPtr Make(Expr::Kind k, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }

  // Parses statements until a block tag whose keyword is in `ends` (consumed up to the keyword;
  // the keyword is stored in *end). At top level `ends` is empty and the body ends at EOF.
  Status ParseBody(Body* body, std::initializer_list<std::string_view> ends, std::string* end) {
    while (true) {
      const Token& t = Cur();
      if (t.type == T::kEof) {
        if (ends.size() == 0) return Status();
        std::string closer(*(ends.end() - 1));
        return Error("unexpected end of template: missing '{% " + closer +
                     " %}' to close the block opened on line " + std::to_string(open_line_));
      }
      if (t.type == T::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::kText;
        s->line = t.line;
        s->text = t.text;
        body->push_back(std::move(s));
        ++pos_;
        continue;
      }
      if (t.type == T::kVarBegin) {
        ++pos_;
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::kOutput;
        s->line = t.line;
        ASSIGN_OR_RETURN(s->expr, ParseTuple(true));
        if (Cur().type != T::kVarEnd) return Error("expected '}}', got " + Describe(Cur()));
        ++pos_;
        body->push_back(std::move(s));
        continue;
      }
      if (t.type != T::kBlockBegin) return Error("unexpected " + Describe(t));
      const Token& kw = Peek();
      if (kw.type != T::kName) {
        ++pos_;
        return Error("expected a statement keyword after '{%', got " + Describe(kw));
      }
      for (auto e : ends) {
        if (kw.text == e) {
          pos_ += 2;
          *end = kw.text;
          return Status();
        }
      }
      pos_ += 2;
      ASSIGN_OR_RETURN(StmtPtr s, ParseStatement(kw));
      body->push_back(std::move(s));
    }
  }

  Result<StmtPtr> ParseStatement(const Token& kw) {
    DepthGuard guard(this);
    if (depth_ > kMaxDepth) return Error("blocks nested too deeply");
    auto s = std::make_unique<Stmt>();
    s->line = kw.line;
    const std::string& k = kw.text;
    int saved_open = open_line_;
    open_line_ = kw.line;
    Status st;
    if (k == "if") {
      st = ParseIf(s.get());
    } else if (k == "for") {
      st = ParseFor(s.get());
    } else if (k == "set") {
      st = ParseSet(s.get());
    } else if (k == "macro") {
      st = ParseMacro(s.get());
    } else if (k == "break" || k == "continue") {
      s->kind = k == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      if (loop_depth_ == 0) {
        --pos_;
        return Error("'" + k + "' outside of a loop");
      }
      st = ExpectBlockEnd(k);
    } else if (k == "filter") {
      st = ParseFilterBlock(s.get());
    } else if (k == "generation") {
      s->kind = Stmt::Kind::kGeneration;
      RETURN_IF_ERROR(ExpectBlockEnd(k));
      std::string end;
      st = ParseBody(&s->body, {"endgeneration"}, &end);
      if (st.ok()) st = ExpectBlockEnd(end);
    } else if (k.starts_with("end") || k == "elif" || k == "else") {
      --pos_;
      return Error("unexpected '{% " + k + " %}' (no open block it could close)");
    } else {
      --pos_;
      return Unimplemented("line " + std::to_string(kw.line) +
                           ": unsupported Jinja construct '{% " + k + " %}' in the chat template");
    }
    open_line_ = saved_open;
    RETURN_IF_ERROR(st);
    return s;
  }

  Status ParseIf(Stmt* s) {
    s->kind = Stmt::Kind::kIf;
    while (true) {
      ASSIGN_OR_RETURN(ExprPtr cond, ParseTuple(false));
      RETURN_IF_ERROR(ExpectBlockEnd("if"));
      Body body;
      std::string end;
      RETURN_IF_ERROR(ParseBody(&body, {"elif", "else", "endif"}, &end));
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "elif") continue;
      if (end == "else") {
        RETURN_IF_ERROR(ExpectBlockEnd("else"));
        RETURN_IF_ERROR(ParseBody(&s->else_body, {"endif"}, &end));
      }
      return ExpectBlockEnd("endif");
    }
  }

  Result<Target> ParseTarget(bool allow_attr) {
    Target t;
    ASSIGN_OR_RETURN(std::string n, ExpectName("a variable name"));
    t.names.push_back(n);
    if (allow_attr && SkipOp(".")) {
      ASSIGN_OR_RETURN(t.attr, ExpectName("an attribute name"));
      return t;
    }
    while (SkipOp(",")) {
      t.is_tuple = true;
      if (Cur().type != T::kName || IsName("in")) break;
      ASSIGN_OR_RETURN(std::string m, ExpectName("a variable name"));
      t.names.push_back(m);
    }
    return t;
  }

  Status ParseFor(Stmt* s) {
    s->kind = Stmt::Kind::kFor;
    bool paren = SkipOp("(");
    ASSIGN_OR_RETURN(s->target, ParseTarget(false));
    if (paren) RETURN_IF_ERROR(Expect(")"));
    if (!SkipName("in")) return Error("expected 'in' in 'for', got " + Describe(Cur()));
    ASSIGN_OR_RETURN(s->expr, ParseTuple(false));
    if (SkipName("if")) {
      ASSIGN_OR_RETURN(s->cond, ParseExpression(true));
    }
    if (IsName("recursive")) {
      return Unimplemented("line " + std::to_string(Cur().line) +
                           ": unsupported Jinja construct 'recursive' loops");
    }
    RETURN_IF_ERROR(ExpectBlockEnd("for"));
    ++loop_depth_;
    std::string end;
    Status st = ParseBody(&s->body, {"else", "endfor"}, &end);
    --loop_depth_;
    RETURN_IF_ERROR(st);
    if (end == "else") {
      RETURN_IF_ERROR(ExpectBlockEnd("else"));
      RETURN_IF_ERROR(ParseBody(&s->else_body, {"endfor"}, &end));
    }
    return ExpectBlockEnd("endfor");
  }

  Status ParseSet(Stmt* s) {
    ASSIGN_OR_RETURN(s->target, ParseTarget(true));
    if (SkipOp("=")) {
      s->kind = Stmt::Kind::kSet;
      ASSIGN_OR_RETURN(s->expr, ParseTuple(true));
      return ExpectBlockEnd("set");
    }
    s->kind = Stmt::Kind::kSetBlock;
    if (s->target.is_tuple) return Error("a block 'set' takes one name");
    if (IsOp("|")) {
      ASSIGN_OR_RETURN(s->expr, ParseFilterChain(nullptr));
    }
    RETURN_IF_ERROR(ExpectBlockEnd("set"));
    std::string end;
    RETURN_IF_ERROR(ParseBody(&s->body, {"endset"}, &end));
    return ExpectBlockEnd("endset");
  }

  Status ParseMacro(Stmt* s) {
    s->kind = Stmt::Kind::kMacro;
    ASSIGN_OR_RETURN(s->name, ExpectName("a macro name"));
    RETURN_IF_ERROR(Expect("("));
    while (!SkipOp(")")) {
      if (!s->params.empty()) RETURN_IF_ERROR(Expect(","));
      if (SkipOp(")")) break;
      ASSIGN_OR_RETURN(std::string p, ExpectName("a parameter name"));
      s->params.push_back(p);
      if (SkipOp("=")) {
        ASSIGN_OR_RETURN(ExprPtr d, ParseExpression(true));
        s->defaults.push_back(std::move(d));
      } else {
        s->defaults.push_back(nullptr);
      }
    }
    RETURN_IF_ERROR(ExpectBlockEnd("macro"));
    int saved = loop_depth_;
    loop_depth_ = 0;
    std::string end;
    Status st = ParseBody(&s->body, {"endmacro"}, &end);
    loop_depth_ = saved;
    RETURN_IF_ERROR(st);
    if (Cur().type == T::kName) ++pos_;  // {% endmacro name %}
    return ExpectBlockEnd("endmacro");
  }

  Status ParseFilterBlock(Stmt* s) {
    s->kind = Stmt::Kind::kFilterBlock;
    ASSIGN_OR_RETURN(s->expr, ParseFilterChain(nullptr, /*leading_pipe=*/false));
    RETURN_IF_ERROR(ExpectBlockEnd("filter"));
    std::string end;
    RETURN_IF_ERROR(ParseBody(&s->body, {"endfilter"}, &end));
    return ExpectBlockEnd("endfilter");
  }

  // ---- expressions ----

  Result<ExprPtr> ParseTuple(bool with_condexpr) {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr first, ParseExpression(with_condexpr));
    if (!IsOp(",")) return first;
    auto t = Make(Expr::Kind::kTuple, line);
    t->children.push_back(std::move(first));
    while (SkipOp(",")) {
      if (Cur().type == T::kVarEnd || Cur().type == T::kBlockEnd || IsOp(")")) break;
      ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(with_condexpr));
      t->children.push_back(std::move(e));
    }
    return t;
  }

  Result<ExprPtr> ParseExpression(bool with_condexpr) {
    if (!with_condexpr) return ParseOr();
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr e, ParseOr());
    while (SkipName("if")) {
      ASSIGN_OR_RETURN(ExprPtr cond, ParseOr());
      ExprPtr other;
      if (SkipName("else")) {
        ASSIGN_OR_RETURN(other, ParseExpression(true));
      }
      auto c = Make(Expr::Kind::kCond, line);
      c->children.push_back(std::move(e));
      c->children.push_back(std::move(cond));
      c->children.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }

  Result<ExprPtr> ParseOr() {
    ASSIGN_OR_RETURN(ExprPtr l, ParseAnd());
    while (IsName("or")) {
      int line = Cur().line;
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr r, ParseAnd());
      auto n = Make(Expr::Kind::kOr, line);
      n->children.push_back(std::move(l));
      n->children.push_back(std::move(r));
      l = std::move(n);
    }
    return l;
  }

  Result<ExprPtr> ParseAnd() {
    ASSIGN_OR_RETURN(ExprPtr l, ParseNot());
    while (IsName("and")) {
      int line = Cur().line;
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr r, ParseNot());
      auto n = Make(Expr::Kind::kAnd, line);
      n->children.push_back(std::move(l));
      n->children.push_back(std::move(r));
      l = std::move(n);
    }
    return l;
  }

  Result<ExprPtr> ParseNot() {
    if (IsName("not")) {
      int line = Cur().line;
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr e, ParseNot());
      auto n = Make(Expr::Kind::kNot, line);
      n->children.push_back(std::move(e));
      return n;
    }
    return ParseCompare();
  }

  Result<ExprPtr> ParseCompare() {
    int line = Cur().line;
    ASSIGN_OR_RETURN(ExprPtr first, ParseMath1());
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (Cur().type == T::kOp && (Cur().text == "==" || Cur().text == "!=" || Cur().text == "<" ||
                                   Cur().text == "<=" || Cur().text == ">" || Cur().text == ">=")) {
        op = Cur().text;
        ++pos_;
      } else if (IsName("in")) {
        op = "in";
        ++pos_;
      } else if (IsName("not") && Peek().type == T::kName && Peek().text == "in") {
        op = "not in";
        pos_ += 2;
      } else {
        break;
      }
      if (!cmp) {
        cmp = Make(Expr::Kind::kCompare, line);
        cmp->children.push_back(std::move(first));
      }
      ASSIGN_OR_RETURN(ExprPtr r, ParseMath1());
      cmp->ops.push_back(op);
      cmp->children.push_back(std::move(r));
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  Result<ExprPtr> Binary(std::string op, ExprPtr l, ExprPtr r, int line) {
    auto n = Make(Expr::Kind::kBinary, line);
    n->name = std::move(op);
    n->children.push_back(std::move(l));
    n->children.push_back(std::move(r));
    return n;
  }

  Result<ExprPtr> ParseMath1() {
    ASSIGN_OR_RETURN(ExprPtr l, ParseConcat());
    while (IsOp("+") || IsOp("-")) {
      std::string op = Cur().text;
      int line = Cur().line;
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr r, ParseConcat());
      ASSIGN_OR_RETURN(l, Binary(op, std::move(l), std::move(r), line));
    }
    return l;
  }

  Result<ExprPtr> ParseConcat() {
    ASSIGN_OR_RETURN(ExprPtr l, ParseMath2());
    while (IsOp("~")) {
      int line = Cur().line;
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr r, ParseMath2());
      ASSIGN_OR_RETURN(l, Binary("~", std::move(l), std::move(r), line));
    }
    return l;
  }

  Result<ExprPtr> ParseMath2() {
    ASSIGN_OR_RETURN(ExprPtr l, ParsePow());
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      std::string op = Cur().text;
      int line = Cur().line;
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr r, ParsePow());
      ASSIGN_OR_RETURN(l, Binary(op, std::move(l), std::move(r), line));
    }
    return l;
  }

  Result<ExprPtr> ParsePow() {
    ASSIGN_OR_RETURN(ExprPtr l, ParseUnary(true));
    while (IsOp("**")) {
      int line = Cur().line;
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr r, ParseUnary(true));
      ASSIGN_OR_RETURN(l, Binary("**", std::move(l), std::move(r), line));
    }
    return l;
  }

  Result<ExprPtr> ParseUnary(bool with_filter) {
    DepthGuard guard(this);
    if (depth_ > kMaxDepth) return Error("expression nested too deeply");
    int line = Cur().line;
    ExprPtr node;
    if (IsOp("-") || IsOp("+")) {
      bool neg = IsOp("-");
      ++pos_;
      ASSIGN_OR_RETURN(ExprPtr inner, ParseUnary(false));
      node = Make(neg ? Expr::Kind::kNeg : Expr::Kind::kPos, line);
      node->children.push_back(std::move(inner));
    } else {
      ASSIGN_OR_RETURN(node, ParsePrimary());
    }
    ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
    if (with_filter) {
      ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
    }
    return node;
  }

  Result<ExprPtr> ParsePrimary() {
    const Token& t = Cur();
    int line = t.line;
    if (t.type == T::kName) {
      ++pos_;
      auto lit = [&](Value v) {
        auto e = Make(Expr::Kind::kLiteral, line);
        e->literal = std::move(v);
        return e;
      };
      if (t.text == "true" || t.text == "True") return lit(Value(true));
      if (t.text == "false" || t.text == "False") return lit(Value(false));
      if (t.text == "none" || t.text == "None") return lit(Value(None{}));
      auto e = Make(Expr::Kind::kName, line);
      e->name = t.text;
      return e;
    }
    if (t.type == T::kString) {
      std::string s;
      while (Cur().type == T::kString) s += toks_[pos_++].text;
      auto e = Make(Expr::Kind::kLiteral, line);
      e->literal = Value(std::move(s));
      return e;
    }
    if (t.type == T::kInt || t.type == T::kFloat) {
      ++pos_;
      auto e = Make(Expr::Kind::kLiteral, line);
      if (t.type == T::kInt) {
        errno = 0;
        long long v = std::strtoll(t.text.c_str(), nullptr, 10);
        if (errno == ERANGE) return Error("integer literal out of range: " + t.text);
        e->literal = Value(static_cast<int64_t>(v));
      } else {
        e->literal = Value(std::strtod(t.text.c_str(), nullptr));
      }
      return e;
    }
    if (IsOp("(")) {
      ++pos_;
      if (SkipOp(")")) return Make(Expr::Kind::kTuple, line);
      ASSIGN_OR_RETURN(ExprPtr first, ParseExpression(true));
      if (SkipOp(")")) return first;
      auto tup = Make(Expr::Kind::kTuple, line);
      tup->children.push_back(std::move(first));
      while (SkipOp(",")) {
        if (IsOp(")")) break;
        ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(true));
        tup->children.push_back(std::move(e));
      }
      RETURN_IF_ERROR(Expect(")"));
      return tup;
    }
    if (IsOp("[")) {
      ++pos_;
      auto l = Make(Expr::Kind::kList, line);
      while (!SkipOp("]")) {
        if (!l->children.empty()) RETURN_IF_ERROR(Expect(","));
        if (SkipOp("]")) break;
        ASSIGN_OR_RETURN(ExprPtr e, ParseExpression(true));
        l->children.push_back(std::move(e));
      }
      return l;
    }
    if (IsOp("{")) {
      ++pos_;
      auto d = Make(Expr::Kind::kDict, line);
      while (!SkipOp("}")) {
        if (!d->children.empty()) RETURN_IF_ERROR(Expect(","));
        if (SkipOp("}")) break;
        ASSIGN_OR_RETURN(ExprPtr k, ParseExpression(true));
        RETURN_IF_ERROR(Expect(":"));
        ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
        d->children.push_back(std::move(k));
        d->children.push_back(std::move(v));
      }
      return d;
    }
    return Error("unexpected " + Describe(t) + " in expression");
  }

  Result<ExprPtr> ParsePostfix(ExprPtr node) {
    while (true) {
      int line = Cur().line;
      if (IsOp(".")) {
        ++pos_;
        if (Cur().type == T::kName) {
          auto a = Make(Expr::Kind::kGetAttr, line);
          a->name = toks_[pos_++].text;
          a->children.push_back(std::move(node));
          node = std::move(a);
        } else if (Cur().type == T::kInt) {
          auto g = Make(Expr::Kind::kGetItem, line);
          auto idx = Make(Expr::Kind::kLiteral, line);
          idx->literal = Value(static_cast<int64_t>(std::strtoll(Cur().text.c_str(), nullptr, 10)));
          ++pos_;
          g->children.push_back(std::move(node));
          g->children.push_back(std::move(idx));
          node = std::move(g);
        } else {
          return Error("expected an attribute name after '.', got " + Describe(Cur()));
        }
      } else if (IsOp("[")) {
        ++pos_;
        ASSIGN_OR_RETURN(ExprPtr idx, ParseSubscript());
        RETURN_IF_ERROR(Expect("]"));
        auto g = Make(Expr::Kind::kGetItem, line);
        g->children.push_back(std::move(node));
        g->children.push_back(std::move(idx));
        node = std::move(g);
      } else if (IsOp("(")) {
        auto c = Make(Expr::Kind::kCall, line);
        c->children.push_back(std::move(node));
        RETURN_IF_ERROR(ParseCallArgs(c.get()));
        node = std::move(c);
      } else {
        return node;
      }
    }
  }

  Result<ExprPtr> ParseSubscript() {
    int line = Cur().line;
    ExprPtr parts[3];
    if (!IsOp(":")) {
      ASSIGN_OR_RETURN(parts[0], ParseExpression(true));
      if (!IsOp(":")) return std::move(parts[0]);
    }
    ++pos_;  // ':'
    if (!IsOp("]") && !IsOp(":")) {
      ASSIGN_OR_RETURN(parts[1], ParseExpression(true));
    }
    if (SkipOp(":") && !IsOp("]")) {
      ASSIGN_OR_RETURN(parts[2], ParseExpression(true));
    }
    auto s = Make(Expr::Kind::kSlice, line);
    for (auto& p : parts) s->children.push_back(std::move(p));
    return s;
  }

  // Parses "(args, kw=value)" into e->children (after the existing ones) and e->kwargs.
  Status ParseCallArgs(Expr* e) {
    RETURN_IF_ERROR(Expect("("));
    bool first = true;
    while (!SkipOp(")")) {
      if (!first) RETURN_IF_ERROR(Expect(","));
      first = false;
      if (SkipOp(")")) break;
      if (IsOp("*") || IsOp("**")) {
        return Unimplemented("line " + std::to_string(Cur().line) +
                             ": unsupported Jinja construct '*args'/'**kwargs' in a call");
      }
      if (Cur().type == T::kName && Peek().type == T::kOp && Peek().text == "=") {
        std::string k = Cur().text;
        pos_ += 2;
        ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
        e->kwargs.emplace_back(std::move(k), std::move(v));
      } else {
        if (!e->kwargs.empty()) return Error("positional argument after keyword argument");
        ASSIGN_OR_RETURN(ExprPtr v, ParseExpression(true));
        e->children.push_back(std::move(v));
      }
    }
    return Status();
  }

  // Filters ("| name(args)") starting at the current token; `input` may be null (filter blocks).
  Result<ExprPtr> ParseFilterChain(ExprPtr input, bool leading_pipe = true) {
    bool first = true;
    while ((first && !leading_pipe) || IsOp("|")) {
      if (leading_pipe || !first) ++pos_;
      first = false;
      int line = Cur().line;
      ASSIGN_OR_RETURN(std::string name, ExpectName("a filter name"));
      while (IsOp(".") && Peek().type == T::kName) {
        name += "." + Peek().text;
        pos_ += 2;
      }
      if (!IsKnownFilter(name)) {
        return Unimplemented("line " + std::to_string(line) + ": unknown filter '" + name + "'");
      }
      auto f = Make(Expr::Kind::kFilter, line);
      f->name = name;
      f->children.push_back(std::move(input));
      if (IsOp("(")) RETURN_IF_ERROR(ParseCallArgs(f.get()));
      input = std::move(f);
    }
    return input;
  }

  Result<ExprPtr> ParseFilterExpr(ExprPtr node) {
    while (true) {
      if (IsOp("|")) {
        ASSIGN_OR_RETURN(node, ParseFilterChain(std::move(node)));
      } else if (IsName("is")) {
        int line = Cur().line;
        ++pos_;
        bool neg = SkipName("not");
        std::string name;
        if (Cur().type == T::kName) {
          name = toks_[pos_++].text;
        } else if (Cur().type == T::kOp &&
                   (Cur().text == "==" || Cur().text == "!=" || Cur().text == "<" ||
                    Cur().text == ">" || Cur().text == "<=" || Cur().text == ">=")) {
          name = toks_[pos_++].text;
        } else {
          return Error("expected a test name after 'is', got " + Describe(Cur()));
        }
        if (!IsKnownTest(name)) {
          return Unimplemented("line " + std::to_string(line) + ": unknown test '" + name + "'");
        }
        auto t = Make(Expr::Kind::kTest, line);
        t->name = name;
        t->negated = neg;
        t->children.push_back(std::move(node));
        if (IsOp("(")) {
          RETURN_IF_ERROR(ParseCallArgs(t.get()));
        } else if ((Cur().type == T::kName || Cur().type == T::kString || Cur().type == T::kInt ||
                    Cur().type == T::kFloat || IsOp("[") || IsOp("{")) &&
                   !IsName("else") && !IsName("or") && !IsName("and") && !IsName("is")) {
          ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
          ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
          t->children.push_back(std::move(arg));
        }
        node = std::move(t);
      } else if (IsOp("(")) {
        auto c = Make(Expr::Kind::kCall, Cur().line);
        c->children.push_back(std::move(node));
        RETURN_IF_ERROR(ParseCallArgs(c.get()));
        node = std::move(c);
      } else {
        return node;
      }
    }
  }

  const std::vector<Token>& toks_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int open_line_ = 0;
  // Nesting depth of expressions and blocks: bounds the recursion of parsing and rendering.
  static constexpr int kMaxDepth = 200;
  int depth_ = 0;
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p_(p) { ++p_->depth_; }
    ~DepthGuard() { --p_->depth_; }
    Parser* p_;
  };
};

}  // namespace

Result<Body> Parse(const std::vector<Token>& tokens) { return Parser(tokens).Run(); }

}  // namespace modelcar::tmpl
