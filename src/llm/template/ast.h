// Syntax tree of a parsed template. Immutable after parsing; shared read-only by every render.
#ifndef MODELCAR_LLM_TEMPLATE_AST_H_
#define MODELCAR_LLM_TEMPLATE_AST_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "llm/template/value.h"

namespace modelcar::tmpl {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // literal (scalar only)
    kName,     // name
    kList,     // [children...]
    kTuple,    // (children...)
    kDict,     // {keys[i]: values[i]} stored as children pairs k0, v0, k1, v1...
    kGetAttr,  // children[0].name
    kGetItem,  // children[0][children[1]]
    kSlice,    // children[0..2]: start, stop, step (each may be null)
    kCall,     // children[0](children[1..], kwargs)
    kFilter,   // children[0] | name(children[1..], kwargs)
    kTest,     // children[0] is [not] name(children[1..], kwargs); negated
    kNeg,      // -children[0]
    kPos,      // +children[0]
    kNot,      // not children[0]
    kBinary,   // children[0] op children[1]: + - * / // % ** ~
    kCompare,  // children[0] ops[0] children[1] ops[1] children[2] ...
    kAnd,
    kOr,
    kCond,  // children[0] if children[1] else children[2] (may be null)
  };
  Kind kind;
  int line = 0;
  Value literal;
  std::string name;              // name, attribute, filter/test name, binary op
  std::vector<std::string> ops;  // comparison operators
  bool negated = false;          // `is not`
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// An assignment target: a name, a tuple of names, or `ns.attr`.
struct Target {
  std::vector<std::string> names;  // one name, or several for tuple unpacking
  bool is_tuple = false;
  std::string attr;  // when set: names[0].attr = value (namespace assignment)
};

struct Stmt {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // branches (cond, body)..., else_body
    kFor,       // for target in expr [if cond]: body, else_body
    kSet,       // set target = expr
    kSetBlock,  // set target: body (rendered), optional filter in expr (applied to body)
    kMacro,     // macro name(params = defaults): body
    kBreak,
    kContinue,
    kFilterBlock,  // filter expr (a kFilter whose children[0] is null): body
    kGeneration,   // HF's {% generation %}: body rendered as is
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr cond;
  Target target;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::string name;                 // macro name
  std::vector<std::string> params;  // macro parameters
  std::vector<ExprPtr> defaults;    // per parameter, null when required
};

}  // namespace modelcar::tmpl

#endif  // MODELCAR_LLM_TEMPLATE_AST_H_
