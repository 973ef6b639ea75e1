// Expression parsing (Jinja2 precedence: condexpr < or < and < not < compare < +,- < ~ <
// *,/,//,% < ** < unary, then postfix (attribute, subscript, call) and filters/tests).
#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>

#include "llm/template/builtins.h"
#include "llm/template/parser_internal.h"

namespace modelcar::tmpl::internal {

Result<ExprPtr> Parser::ParseTuple(bool with_condexpr) {
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

Result<ExprPtr> Parser::ParseExpression(bool with_condexpr) {
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

Result<ExprPtr> Parser::ParseOr() {
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

Result<ExprPtr> Parser::ParseAnd() {
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

Result<ExprPtr> Parser::ParseNot() {
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

Result<ExprPtr> Parser::ParseCompare() {
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

Result<ExprPtr> Parser::Binary(std::string op, ExprPtr l, ExprPtr r, int line) {
  auto n = Make(Expr::Kind::kBinary, line);
  n->name = std::move(op);
  n->children.push_back(std::move(l));
  n->children.push_back(std::move(r));
  return n;
}

Result<ExprPtr> Parser::ParseMath1() {
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

Result<ExprPtr> Parser::ParseConcat() {
  ASSIGN_OR_RETURN(ExprPtr l, ParseMath2());
  while (IsOp("~")) {
    int line = Cur().line;
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr r, ParseMath2());
    ASSIGN_OR_RETURN(l, Binary("~", std::move(l), std::move(r), line));
  }
  return l;
}

Result<ExprPtr> Parser::ParseMath2() {
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

Result<ExprPtr> Parser::ParsePow() {
  ASSIGN_OR_RETURN(ExprPtr l, ParseUnary(true));
  while (IsOp("**")) {
    int line = Cur().line;
    ++pos_;
    ASSIGN_OR_RETURN(ExprPtr r, ParseUnary(true));
    ASSIGN_OR_RETURN(l, Binary("**", std::move(l), std::move(r), line));
  }
  return l;
}

Result<ExprPtr> Parser::ParseUnary(bool with_filter) {
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

Result<ExprPtr> Parser::ParsePrimary() {
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

Result<ExprPtr> Parser::ParsePostfix(ExprPtr node) {
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

Result<ExprPtr> Parser::ParseSubscript() {
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
Status Parser::ParseCallArgs(Expr* e) {
  RETURN_IF_ERROR(Expect("("));
  bool first = true;
  while (!SkipOp(")")) {
    if (!first) RETURN_IF_ERROR(Expect(","));
    first = false;
    if (SkipOp(")")) break;
    if (IsOp("*") || IsOp("**")) {
      return Unimplemented(fmt::format(
          "line {}: unsupported Jinja construct '*args'/'**kwargs' in a call", Cur().line));
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
Result<ExprPtr> Parser::ParseFilterChain(ExprPtr input, bool leading_pipe) {
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
      return Unimplemented(fmt::format("line {}: unknown filter '{}'", line, name));
    }
    auto f = Make(Expr::Kind::kFilter, line);
    f->name = name;
    f->children.push_back(std::move(input));
    if (IsOp("(")) RETURN_IF_ERROR(ParseCallArgs(f.get()));
    input = std::move(f);
  }
  return input;
}

Result<ExprPtr> Parser::ParseFilterExpr(ExprPtr node) {
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
        return Unimplemented(fmt::format("line {}: unknown test '{}'", line, name));
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

}  // namespace modelcar::tmpl::internal
