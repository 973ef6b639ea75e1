#include "llm/template/renderer.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

#include "llm/template/builtins.h"
#include "llm/template/operators.h"

namespace modelcar::tmpl {
namespace {

// Caps that keep a hostile template from exhausting memory or the stack.
constexpr size_t kMaxOutputBytes = size_t{256} << 20;
constexpr int kMaxCallDepth = 200;
constexpr int64_t kMaxLoopIterations = 1'000'000;
// Above the request-context limit (chat_template.cc, 256) plus what a template wraps around it.
constexpr uint32_t kMaxValueDepth = 512;

Status AtLine(int line, Status s) {
  if (s.ok() || s.message().starts_with("line ")) return s;
  return Status(s.code(), fmt::format("line {}: {}", line, s.message()));
}

class Renderer {
 public:
  explicit Renderer(std::shared_ptr<Dict> context) {
    globals_ = std::make_shared<Dict>();
    AddGlobals(globals_.get(), &namespaces_);
    scopes_.push_back(std::move(context));
    host_.filter = [this](std::string_view name, const Value& in, CallArgs& a) {
      return ApplyFilter(name, in, a, host_);
    };
    host_.test = [this](std::string_view name, const Value& in, CallArgs& a) {
      return ApplyTest(name, in, a, host_);
    };
  }

  // Namespaces may reference themselves (`{% set ns.me = ns %}`): empty them all so that no
  // reference cycle outlives the render.
  ~Renderer() {
    for (auto& ns : namespaces_) {
      std::vector<std::pair<std::string, Value>> items;
      items.swap(ns->items);
    }
  }
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  Status Exec(const Body& body, std::string* out) {
    for (const StmtPtr& s : body) {
      RETURN_IF_ERROR(AtLine(s->line, ExecOne(*s, out)));
      if (flow_ != Flow::kNormal) return Status();
      if (out->size() > kMaxOutputBytes) {
        return ResourceExhausted(
            fmt::format("rendered template exceeds {} bytes", kMaxOutputBytes));
      }
    }
    return Status();
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Value Lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it)
      if (const Value* v = (*it)->Find(name)) return *v;
    if (const Value* v = globals_->Find(name)) return *v;
    return Value::MakeUndefined("'" + name + "' is undefined");
  }

  Status Assign(const Target& t, Value v) {
    Dict& scope = *scopes_.back();
    if (!t.attr.empty()) {
      Value ns = Lookup(t.names[0]);
      if (!ns.is_namespace()) {
        return InvalidArgument("cannot assign attribute '" + t.attr +
                               "' on non-namespace object '" + t.names[0] + "'");
      }
      ns.as_namespace().Set(t.attr, std::move(v));
      return Status();
    }
    if (!t.is_tuple) {
      scope.Set(t.names[0], std::move(v));
      return Status();
    }
    ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(v));
    if (items.size() != t.names.size()) {
      return InvalidArgument(
          fmt::format("cannot unpack {} values into {} names", items.size(), t.names.size()));
    }
    for (size_t i = 0; i < items.size(); ++i) scope.Set(t.names[i], std::move(items[i]));
    return Status();
  }

  Status ExecOne(const Stmt& s, std::string* out) {
    switch (s.kind) {
      case Stmt::Kind::kText:
        out->append(s.text);
        return Status();
      case Stmt::Kind::kOutput: {
        ASSIGN_OR_RETURN(Value v, Eval(*s.expr));
        if (!v.is_undefined()) out->append(PyStr(v));
        return Status();
      }
      case Stmt::Kind::kIf:
        for (const auto& [cond, body] : s.branches) {
          ASSIGN_OR_RETURN(Value c, Eval(*cond));
          if (c.Truthy()) return Exec(body, out);
        }
        return Exec(s.else_body, out);
      case Stmt::Kind::kFor:
        return ExecFor(s, out);
      case Stmt::Kind::kSet: {
        ASSIGN_OR_RETURN(Value v, Eval(*s.expr));
        return Assign(s.target, std::move(v));
      }
      case Stmt::Kind::kSetBlock: {
        std::string body;
        RETURN_IF_ERROR(Exec(s.body, &body));
        Value v(std::move(body));
        if (s.expr) {
          ASSIGN_OR_RETURN(v, ApplyFilterChain(*s.expr, std::move(v)));
        }
        return Assign(s.target, std::move(v));
      }
      case Stmt::Kind::kMacro: {
        const Stmt* macro = &s;
        scopes_.back()->Set(s.name, Value::MakeFunction(s.name, [this, macro](CallArgs& a) {
                              return CallMacro(*macro, a);
                            }));
        return Status();
      }
      case Stmt::Kind::kBreak:
        flow_ = Flow::kBreak;
        return Status();
      case Stmt::Kind::kContinue:
        flow_ = Flow::kContinue;
        return Status();
      case Stmt::Kind::kFilterBlock: {
        std::string body;
        RETURN_IF_ERROR(Exec(s.body, &body));
        ASSIGN_OR_RETURN(Value v, ApplyFilterChain(*s.expr, Value(std::move(body))));
        out->append(PyStr(v));
        return Status();
      }
      case Stmt::Kind::kGeneration:
        return Exec(s.body, out);
    }
    return Internal("unknown statement");
  }

  // Applies a filter chain whose innermost input is null (block set / filter block).
  Result<Value> ApplyFilterChain(const Expr& f, Value input) {
    Value in = std::move(input);
    if (f.children[0]) {
      ASSIGN_OR_RETURN(in, ApplyFilterChain(*f.children[0], std::move(in)));
    }
    ASSIGN_OR_RETURN(CallArgs args, EvalArgs(f, 1));
    Result<Value> r = ApplyFilter(f.name, in, args, host_);
    if (!r.ok()) return AtLine(f.line, r.status());
    return r;
  }

  Status ExecFor(const Stmt& s, std::string* out) {
    ASSIGN_OR_RETURN(Value seq, Eval(*s.expr));
    if (seq.is_none()) return InvalidArgument("'NoneType' object is not iterable");
    ASSIGN_OR_RETURN(std::vector<Value> items, Iterate(seq));
    if (s.cond) {
      std::vector<Value> kept;
      for (Value& v : items) {
        scopes_.push_back(std::make_shared<Dict>());
        Status st = Assign(s.target, v);
        Result<Value> c = st.ok() ? Eval(*s.cond) : Result<Value>(st);
        scopes_.pop_back();
        if (!c.ok()) return c.status();
        if (c->Truthy()) kept.push_back(std::move(v));
      }
      items = std::move(kept);
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      if (++iterations_ > kMaxLoopIterations) {
        return ResourceExhausted(
            fmt::format("template loops ran more than {} iterations", kMaxLoopIterations));
      }
      auto scope = std::make_shared<Dict>();
      auto loop = std::make_shared<Dict>();
      loop->items.reserve(12);
      loop->Append("index", Value(i + 1));
      loop->Append("index0", Value(i));
      loop->Append("revindex", Value(n - i));
      loop->Append("revindex0", Value(n - i - 1));
      loop->Append("first", Value(i == 0));
      loop->Append("last", Value(i == n - 1));
      loop->Append("length", Value(n));
      loop->Append("depth", Value(1));
      loop->Append("depth0", Value(0));
      loop->Append("previtem", i > 0
                                               ? items[static_cast<size_t>(i - 1)]
                                               : Value::MakeUndefined("there is no previous item"));
      loop->Append("nextitem", i + 1 < n
                                               ? items[static_cast<size_t>(i + 1)]
                                               : Value::MakeUndefined("there is no next item"));
      loop->Append("cycle",
                               Value::MakeFunction("cycle", [i](CallArgs& a) -> Result<Value> {
                                 if (a.args.empty())
                                   return InvalidArgument("no items for cycling given");
                                 return a.args[static_cast<size_t>(i) % a.args.size()];
                               }));
      scope->Set("loop", Value(std::move(loop)));
      scopes_.push_back(std::move(scope));
      Status st = Assign(s.target, items[static_cast<size_t>(i)]);
      if (st.ok()) st = Exec(s.body, out);
      scopes_.pop_back();
      RETURN_IF_ERROR(st);
      if (flow_ == Flow::kBreak) {
        flow_ = Flow::kNormal;
        break;
      }
      flow_ = Flow::kNormal;
    }
    if (n == 0) return Exec(s.else_body, out);
    return Status();
  }

  Result<Value> CallMacro(const Stmt& m, CallArgs& a) {
    if (a.args.size() > m.params.size()) {
      return InvalidArgument(
          fmt::format("macro '{}' takes not more than {} argument(s)", m.name, m.params.size()));
    }
    if (depth_ >= kMaxCallDepth) return ResourceExhausted("macro recursion too deep");
    auto scope = std::make_shared<Dict>();
    std::vector<std::shared_ptr<Dict>> saved = {scopes_[0], scope};
    std::swap(saved, scopes_);
    ++depth_;
    Status st;
    for (size_t i = 0; i < m.params.size() && st.ok(); ++i) {
      if (i < a.args.size()) {
        scope->Set(m.params[i], a.args[i]);
        continue;
      }
      bool found = false;
      for (auto& [k, v] : a.kwargs) {
        if (k == m.params[i]) {
          scope->Set(k, v);
          found = true;
        }
      }
      if (found) continue;
      if (m.defaults[i]) {
        Result<Value> d = Eval(*m.defaults[i]);
        if (!d.ok()) {
          st = d.status();
          break;
        }
        scope->Set(m.params[i], std::move(*d));
      } else {
        scope->Set(m.params[i],
                   Value::MakeUndefined("parameter '" + m.params[i] + "' was not provided"));
      }
    }
    for (auto& [k, v] : a.kwargs) {
      bool known = false;
      for (const auto& p : m.params) known |= p == k;
      if (!known && st.ok()) {
        st = InvalidArgument("macro '" + m.name + "' takes no keyword argument '" + k + "'");
      }
    }
    std::string body;
    if (st.ok()) st = Exec(m.body, &body);
    flow_ = Flow::kNormal;
    --depth_;
    std::swap(saved, scopes_);
    RETURN_IF_ERROR(st);
    return Value(std::move(body));
  }

  Result<CallArgs> EvalArgs(const Expr& e, size_t first) {
    CallArgs a;
    for (size_t i = first; i < e.children.size(); ++i) {
      ASSIGN_OR_RETURN(Value v, Eval(*e.children[i]));
      a.args.push_back(std::move(v));
    }
    for (const auto& [k, ex] : e.kwargs) {
      ASSIGN_OR_RETURN(Value v, Eval(*ex));
      a.kwargs.emplace_back(k, std::move(v));
    }
    return a;
  }

  Result<Value> Eval(const Expr& e) {
    Result<Value> r = EvalInner(e);
    if (!r.ok()) return AtLine(e.line, r.status());
    // Every value a template builds passes here, one nesting level at a time.
    if (r->Depth() > kMaxValueDepth) {
      return AtLine(e.line, ResourceExhausted(fmt::format("values nested deeper than {} levels",
                                                          kMaxValueDepth)));
    }
    return r;
  }

  Result<Value> EvalInner(const Expr& e) {
    using K = Expr::Kind;
    switch (e.kind) {
      case K::kLiteral:
        return e.literal;
      case K::kName:
        return Lookup(e.name);
      case K::kList:
      case K::kTuple:
        return EvalList(e);
      case K::kDict:
        return EvalDict(e);
      case K::kGetAttr: {
        ASSIGN_OR_RETURN(Value o, Eval(*e.children[0]));
        return GetAttr(o, e.name);
      }
      case K::kGetItem:
        return EvalSubscript(e);
      case K::kSlice:
        return Internal("slice outside of a subscript");
      case K::kCall:
        return EvalCall(e);
      case K::kFilter: {
        ASSIGN_OR_RETURN(Value in, Eval(*e.children[0]));
        ASSIGN_OR_RETURN(CallArgs a, EvalArgs(e, 1));
        return ApplyFilter(e.name, in, a, host_);
      }
      case K::kTest: {
        ASSIGN_OR_RETURN(Value in, Eval(*e.children[0]));
        ASSIGN_OR_RETURN(CallArgs a, EvalArgs(e, 1));
        ASSIGN_OR_RETURN(bool r, ApplyTest(e.name, in, a, host_));
        return Value(r != e.negated);
      }
      case K::kNeg:
      case K::kPos: {
        ASSIGN_OR_RETURN(Value v, Eval(*e.children[0]));
        return Negate(v, e.kind == K::kNeg);
      }
      case K::kNot: {
        ASSIGN_OR_RETURN(Value v, Eval(*e.children[0]));
        return Value(!v.Truthy());
      }
      case K::kBinary: {
        ASSIGN_OR_RETURN(Value a, Eval(*e.children[0]));
        ASSIGN_OR_RETURN(Value b, Eval(*e.children[1]));
        return BinaryOp(e.name, a, b);
      }
      case K::kCompare:
        return EvalCompare(e);
      case K::kAnd: {
        ASSIGN_OR_RETURN(Value a, Eval(*e.children[0]));
        if (!a.Truthy()) return a;
        return Eval(*e.children[1]);
      }
      case K::kOr: {
        ASSIGN_OR_RETURN(Value a, Eval(*e.children[0]));
        if (a.Truthy()) return a;
        return Eval(*e.children[1]);
      }
      case K::kCond: {
        ASSIGN_OR_RETURN(Value c, Eval(*e.children[1]));
        if (c.Truthy()) return Eval(*e.children[0]);
        if (e.children[2]) return Eval(*e.children[2]);
        return Value::MakeUndefined(
            "the inline if-expression evaluated to false and no else section was defined");
      }
    }
    return Internal("unknown expression");
  }

  // [a, b] or (a, b).
  Result<Value> EvalList(const Expr& e) {
    std::vector<Value> items;
    for (const auto& c : e.children) {
      ASSIGN_OR_RETURN(Value v, Eval(*c));
      items.push_back(std::move(v));
    }
    return Value::MakeList(std::move(items), e.kind == Expr::Kind::kTuple);
  }

  // {k: v, ...}: children are keys and values in turn.
  Result<Value> EvalDict(const Expr& e) {
    Value d = Value::MakeDict();
    for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
      ASSIGN_OR_RETURN(Value k, Eval(*e.children[i]));
      ASSIGN_OR_RETURN(Value v, Eval(*e.children[i + 1]));
      if (!k.is_string()) return Unimplemented("dict keys other than strings are not supported");
      d.as_dict().Set(k.as_string(), std::move(v));
    }
    return d;
  }

  // o[k] and o[a:b:c].
  Result<Value> EvalSubscript(const Expr& e) {
    ASSIGN_OR_RETURN(Value o, Eval(*e.children[0]));
    const Expr& idx = *e.children[1];
    if (idx.kind == Expr::Kind::kSlice) {
      Value parts[3];
      const Value* ptrs[3] = {nullptr, nullptr, nullptr};
      for (int i = 0; i < 3; ++i) {
        if (!idx.children[i]) continue;
        ASSIGN_OR_RETURN(parts[i], Eval(*idx.children[i]));
        ptrs[i] = &parts[i];
      }
      return Slice(o, ptrs[0], ptrs[1], ptrs[2]);
    }
    ASSIGN_OR_RETURN(Value k, Eval(idx));
    return GetItem(o, k);
  }

  // f(args...): the callee, then the arguments, then the call.
  Result<Value> EvalCall(const Expr& e) {
    ASSIGN_OR_RETURN(Value fn, Eval(*e.children[0]));
    ASSIGN_OR_RETURN(CallArgs a, EvalArgs(e, 1));
    if (fn.is_undefined()) return UndefinedError(fn);
    if (!fn.is_callable()) return InvalidArgument("'" + fn.TypeName() + "' object is not callable");
    return (*fn.as_callable().fn)(a);
  }

  Result<Value> EvalCompare(const Expr& e) {
    ASSIGN_OR_RETURN(Value left, Eval(*e.children[0]));
    for (size_t i = 0; i < e.ops.size(); ++i) {
      ASSIGN_OR_RETURN(Value right, Eval(*e.children[i + 1]));
      const std::string& op = e.ops[i];
      bool r = false;
      if (op == "==") {
        r = PyEquals(left, right);
      } else if (op == "!=") {
        r = !PyEquals(left, right);
      } else if (op == "in" || op == "not in") {
        ASSIGN_OR_RETURN(bool c, Contains(right, left));
        r = (op == "in") == c;
      } else {
        if (left.is_undefined()) return UndefinedError(left);
        if (right.is_undefined()) return UndefinedError(right);
        if (op == "<") {
          ASSIGN_OR_RETURN(r, PyLess(left, right));
        } else if (op == ">") {
          ASSIGN_OR_RETURN(r, PyLess(right, left));
        } else if (op == "<=") {
          ASSIGN_OR_RETURN(bool gt, PyLess(right, left));
          r = !gt;
        } else {
          ASSIGN_OR_RETURN(bool lt, PyLess(left, right));
          r = !lt;
        }
      }
      if (!r) return Value(false);
      left = std::move(right);
    }
    return Value(true);
  }

  std::vector<std::shared_ptr<Dict>> namespaces_;  // declared first: destroyed last
  std::shared_ptr<Dict> globals_;
  std::vector<std::shared_ptr<Dict>> scopes_;
  BuiltinHost host_;
  Flow flow_ = Flow::kNormal;
  int depth_ = 0;
  int64_t iterations_ = 0;
};

}  // namespace

Result<std::string> RenderBody(const Body& body, std::shared_ptr<Dict> context) {
  Renderer r(std::move(context));
  std::string out;
  RETURN_IF_ERROR(r.Exec(body, &out));
  return out;
}

}  // namespace modelcar::tmpl
