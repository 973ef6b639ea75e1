#include "llm/template/parser.h"

#include <fmt/format.h>

#include <string_view>

#include "llm/template/parser_internal.h"

namespace modelcar::tmpl {
namespace internal {

Result<Body> Parser::Run() {
  Body body;
  std::string end;
  RETURN_IF_ERROR(ParseBody(&body, {}, &end));
  return body;
}

// Parses statements until a block tag whose keyword is in `ends` (consumed up to the keyword;
// the keyword is stored in *end). At top level `ends` is empty and the body ends at EOF.
Status Parser::ParseBody(Body* body, std::initializer_list<std::string_view> ends,
                         std::string* end) {
  while (true) {
    const Token& t = Cur();
    if (t.type == T::kEof) {
      if (ends.size() == 0) return Status();
      std::string closer(*(ends.end() - 1));
      return Error(fmt::format(
          "unexpected end of template: missing '{{% {} %}}' to close the block opened on line {}",
          closer, open_line_));
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

Result<StmtPtr> Parser::ParseStatement(const Token& kw) {
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
    return Unimplemented(fmt::format(
        "line {}: unsupported Jinja construct '{{% {} %}}' in the chat template", kw.line, k));
  }
  open_line_ = saved_open;
  RETURN_IF_ERROR(st);
  return s;
}

Status Parser::ParseIf(Stmt* s) {
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

Result<Target> Parser::ParseTarget(bool allow_attr) {
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

Status Parser::ParseFor(Stmt* s) {
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
    return Unimplemented(
        fmt::format("line {}: unsupported Jinja construct 'recursive' loops", Cur().line));
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

Status Parser::ParseSet(Stmt* s) {
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

Status Parser::ParseMacro(Stmt* s) {
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

Status Parser::ParseFilterBlock(Stmt* s) {
  s->kind = Stmt::Kind::kFilterBlock;
  ASSIGN_OR_RETURN(s->expr, ParseFilterChain(nullptr, /*leading_pipe=*/false));
  RETURN_IF_ERROR(ExpectBlockEnd("filter"));
  std::string end;
  RETURN_IF_ERROR(ParseBody(&s->body, {"endfilter"}, &end));
  return ExpectBlockEnd("endfilter");
}

}  // namespace internal

Result<Body> Parse(const std::vector<Token>& tokens) { return internal::Parser(tokens).Run(); }

}  // namespace modelcar::tmpl
