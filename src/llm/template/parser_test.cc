// The parser alone: the tree it builds (statement kinds, precedence, filters, tests, targets) and
// the constructs it refuses at parse time, with their line.
#include "llm/template/parser.h"

#include <gtest/gtest.h>

#include <string>

namespace modelcar::tmpl {
namespace {

Result<Body> ParseSource(std::string_view src) {
  ASSIGN_OR_RETURN(std::vector<Token> toks, Lex(src));
  return Parse(toks);
}

Body ParseOk(std::string_view src) {
  Result<Body> r = ParseSource(src);
  EXPECT_TRUE(r.ok()) << src << ": " << r.status().ToString();
  return r.ok() ? std::move(*r) : Body{};
}

// The expression of a single {{ ... }}.
const Expr& OutputExpr(const Body& body) {
  static const Expr kEmpty{};
  if (body.size() != 1 || body[0]->kind != Stmt::Kind::kOutput || !body[0]->expr) return kEmpty;
  return *body[0]->expr;
}

TEST(ParserTest, StatementKinds) {
  Body b = ParseOk(
      "t{{ x }}{% if a %}1{% elif b %}2{% else %}3{% endif %}"
      "{% for k, v in d.items() if v %}{% break %}{% continue %}{% else %}e{% endfor %}"
      "{% set y = 1 %}{% set z %}blk{% endset %}{% macro m(p, q=2) %}{{ p }}{% endmacro %}"
      "{% filter upper %}f{% endfilter %}{% generation %}g{% endgeneration %}");
  std::vector<Stmt::Kind> kinds;
  for (const StmtPtr& s : b) kinds.push_back(s->kind);
  using K = Stmt::Kind;
  EXPECT_EQ(kinds, (std::vector<K>{K::kText, K::kOutput, K::kIf, K::kFor, K::kSet, K::kSetBlock,
                                   K::kMacro, K::kFilterBlock, K::kGeneration}));
  const Stmt& if_stmt = *b[2];
  EXPECT_EQ(if_stmt.branches.size(), 2u);
  EXPECT_EQ(if_stmt.else_body.size(), 1u);
  const Stmt& for_stmt = *b[3];
  EXPECT_TRUE(for_stmt.target.is_tuple);
  EXPECT_EQ(for_stmt.target.names, (std::vector<std::string>{"k", "v"}));
  ASSERT_NE(for_stmt.cond, nullptr);
  EXPECT_EQ(for_stmt.body.size(), 2u);
  EXPECT_EQ(for_stmt.body[0]->kind, K::kBreak);
  EXPECT_EQ(for_stmt.body[1]->kind, K::kContinue);
  EXPECT_EQ(for_stmt.else_body.size(), 1u);
  const Stmt& macro = *b[6];
  EXPECT_EQ(macro.name, "m");
  EXPECT_EQ(macro.params, (std::vector<std::string>{"p", "q"}));
  ASSERT_EQ(macro.defaults.size(), 2u);
  EXPECT_EQ(macro.defaults[0], nullptr);
  EXPECT_NE(macro.defaults[1], nullptr);
}

TEST(ParserTest, NamespaceAttributeTarget) {
  Body b = ParseOk("{% set ns.count = 1 %}");
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0]->target.names, (std::vector<std::string>{"ns"}));
  EXPECT_EQ(b[0]->target.attr, "count");
}

TEST(ParserTest, ArithmeticPrecedence) {
  // 1 + 2 * 3 ** 2: the top node is +, its right side *, whose right side **.
  Body b = ParseOk("{{ 1 + 2 * 3 ** 2 }}");
  const Expr& e = OutputExpr(b);
  ASSERT_EQ(e.kind, Expr::Kind::kBinary);
  EXPECT_EQ(e.name, "+");
  ASSERT_EQ(e.children.size(), 2u);
  EXPECT_EQ(e.children[1]->kind, Expr::Kind::kBinary);
  EXPECT_EQ(e.children[1]->name, "*");
  EXPECT_EQ(e.children[1]->children[1]->name, "**");
}

TEST(ParserTest, LogicComparisonAndConditional) {
  // not binds looser than comparisons, and looser than or/and only from inside.
  Body b1 = ParseOk("{{ a if not x < 1 or y else b }}");
  const Expr& e = OutputExpr(b1);
  ASSERT_EQ(e.kind, Expr::Kind::kCond);
  const Expr& cond = *e.children[1];
  ASSERT_EQ(cond.kind, Expr::Kind::kOr);
  EXPECT_EQ(cond.children[0]->kind, Expr::Kind::kNot);
  EXPECT_EQ(cond.children[0]->children[0]->kind, Expr::Kind::kCompare);
  Body b2 = ParseOk("{{ 1 < x <= 3 }}");
  const Expr& chain = OutputExpr(b2);
  ASSERT_EQ(chain.kind, Expr::Kind::kCompare);
  EXPECT_EQ(chain.ops, (std::vector<std::string>{"<", "<="}));
  EXPECT_EQ(chain.children.size(), 3u);
}

TEST(ParserTest, FiltersTestsCallsAndSubscripts) {
  Body b1 = ParseOk("{{ xs | map(attribute='n') | join(', ') }}");
  const Expr& f = OutputExpr(b1);
  ASSERT_EQ(f.kind, Expr::Kind::kFilter);
  EXPECT_EQ(f.name, "join");
  ASSERT_EQ(f.children[0]->kind, Expr::Kind::kFilter);
  EXPECT_EQ(f.children[0]->name, "map");
  ASSERT_EQ(f.children[0]->kwargs.size(), 1u);
  EXPECT_EQ(f.children[0]->kwargs[0].first, "attribute");

  Body b2 = ParseOk("{{ x is not defined }}");
  const Expr& t = OutputExpr(b2);
  ASSERT_EQ(t.kind, Expr::Kind::kTest);
  EXPECT_EQ(t.name, "defined");
  EXPECT_TRUE(t.negated);

  Body b3 = ParseOk("{{ m.get('k', 1)[0][1:2].attr }}");
  const Expr& c = OutputExpr(b3);
  ASSERT_EQ(c.kind, Expr::Kind::kGetAttr);
  EXPECT_EQ(c.name, "attr");
  const Expr& sliced = *c.children[0];  // [1:2]: an item lookup whose key is a slice
  ASSERT_EQ(sliced.kind, Expr::Kind::kGetItem);
  ASSERT_EQ(sliced.children.size(), 2u);
  EXPECT_EQ(sliced.children[1]->kind, Expr::Kind::kSlice);
  ASSERT_EQ(sliced.children[0]->kind, Expr::Kind::kGetItem);
  EXPECT_EQ(sliced.children[0]->children[0]->kind, Expr::Kind::kCall);
}

TEST(ParserTest, Literals) {
  Body b = ParseOk("{{ [1, 'a', none, true, (1, 2), {'k': 2.5}] }}");
  const Expr& l = OutputExpr(b);
  ASSERT_EQ(l.kind, Expr::Kind::kList);
  ASSERT_EQ(l.children.size(), 6u);
  EXPECT_EQ(l.children[0]->kind, Expr::Kind::kLiteral);
  EXPECT_EQ(l.children[4]->kind, Expr::Kind::kTuple);
  EXPECT_EQ(l.children[5]->kind, Expr::Kind::kDict);
  EXPECT_EQ(l.children[5]->children.size(), 2u);  // key, value
}

TEST(ParserTest, RefusesUnsupportedAndUnknownWithTheLine) {
  struct Case {
    const char* src;
    Code code;
    const char* says;
  };
  for (const Case& c : {
           Case{"a\n{% include 'x' %}", Code::kUnimplemented, "include"},
           Case{"a\n{% extends 'x' %}", Code::kUnimplemented, "extends"},
           Case{"a\n{{ x | nosuchfilter }}", Code::kUnimplemented, "nosuchfilter"},
           Case{"a\n{{ x is nosuchtest }}", Code::kUnimplemented, "nosuchtest"},
           Case{"a\n{% if x %}", Code::kInvalidArgument, "line"},
           Case{"a\n{% endfor %}", Code::kInvalidArgument, "endfor"},
           Case{"a\n{{ (1, }}", Code::kInvalidArgument, "line"},
       }) {
    Result<Body> r = ParseSource(c.src);
    ASSERT_FALSE(r.ok()) << c.src;
    EXPECT_EQ(r.status().code(), c.code) << c.src << ": " << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace modelcar::tmpl
