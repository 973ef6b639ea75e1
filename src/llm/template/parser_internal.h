// Internal to the template parser (parser.cc: statements, parser_expr.cc: expressions).
// Not part of the module's API.
#ifndef MODELCAR_LLM_TEMPLATE_PARSER_INTERNAL_H_
#define MODELCAR_LLM_TEMPLATE_PARSER_INTERNAL_H_

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "llm/template/ast.h"
#include "llm/template/lexer.h"

namespace modelcar::tmpl::internal {

using T = Token::Type;

// Recursive-descent parser following Jinja2's grammar and operator precedence.
class Parser {
 public:
  explicit Parser(const std::vector<Token>& t) : toks_(t) {}

  Result<Body> Run();

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
  Status ParseBody(Body* body, std::initializer_list<std::string_view> ends, std::string* end);
  Result<StmtPtr> ParseStatement(const Token& kw);
  Status ParseIf(Stmt* s);
  Result<Target> ParseTarget(bool allow_attr);
  Status ParseFor(Stmt* s);
  Status ParseSet(Stmt* s);
  Status ParseMacro(Stmt* s);
  Status ParseFilterBlock(Stmt* s);

  Result<ExprPtr> ParseTuple(bool with_condexpr);
  Result<ExprPtr> ParseExpression(bool with_condexpr);
  Result<ExprPtr> ParseOr();
  Result<ExprPtr> ParseAnd();
  Result<ExprPtr> ParseNot();
  Result<ExprPtr> ParseCompare();
  Result<ExprPtr> Binary(std::string op, ExprPtr l, ExprPtr r, int line);
  Result<ExprPtr> ParseMath1();
  Result<ExprPtr> ParseConcat();
  Result<ExprPtr> ParseMath2();
  Result<ExprPtr> ParsePow();
  Result<ExprPtr> ParseUnary(bool with_filter);
  Result<ExprPtr> ParsePrimary();
  Result<ExprPtr> ParsePostfix(ExprPtr node);
  Result<ExprPtr> ParseSubscript();
  // Parses "(args, kw=value)" into e->children (after the existing ones) and e->kwargs.
  Status ParseCallArgs(Expr* e);
  // Filters ("| name(args)") starting at the current token; `input` may be null (filter blocks).
  Result<ExprPtr> ParseFilterChain(ExprPtr input, bool leading_pipe = true);
  Result<ExprPtr> ParseFilterExpr(ExprPtr node);
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

}  // namespace modelcar::tmpl::internal

#endif  // MODELCAR_LLM_TEMPLATE_PARSER_INTERNAL_H_
