#include "llm/grammar/grammar.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_map>

namespace modelcar::llm::grammar {
namespace {

struct VecHash {
  size_t operator()(const std::vector<int>& v) const {
    size_t h = v.size();
    for (int x : v) h = h * 1000003u ^ static_cast<size_t>(x);
    return h;
  }
};

// Epsilon closure of `set` (sorted, unique) in `nfa`.
std::vector<int> Closure(const Nfa& nfa, std::vector<int> set, std::vector<uint8_t>* mark) {
  std::vector<int> stack = set;
  for (int s : set) (*mark)[s] = 1;
  while (!stack.empty()) {
    int s = stack.back();
    stack.pop_back();
    for (const Nfa::Edge& e : nfa.edges(s)) {
      if (e.kind == Nfa::Edge::kEpsilon && !(*mark)[e.to]) {
        (*mark)[e.to] = 1;
        set.push_back(e.to);
        stack.push_back(e.to);
      }
    }
  }
  for (int s : set) (*mark)[s] = 0;
  std::sort(set.begin(), set.end());
  return set;
}

// Partition of the bytes into contiguous classes that every byte edge of `nfa` respects.
void ByteClasses(const Nfa& nfa, Dfa* d) {
  std::array<bool, 257> cut{};
  cut[0] = true;
  for (int s = 0; s < nfa.size(); ++s) {
    for (const Nfa::Edge& e : nfa.edges(s)) {
      if (e.kind != Nfa::Edge::kBytes) continue;
      cut[e.lo] = true;
      cut[e.hi + 1] = true;
    }
  }
  int cls = -1;
  for (int b = 0; b < 256; ++b) {
    if (cut[b]) ++cls;
    d->byte_class[b] = static_cast<uint8_t>(cls);
  }
  d->num_classes = cls + 1;
}

Status Determinize(const Nfa& nfa, Frag body, int64_t* budget, Dfa* d) {
  ByteClasses(nfa, d);
  std::vector<int> representative(d->num_classes);
  for (int b = 255; b >= 0; --b) representative[d->byte_class[b]] = b;
  std::vector<uint8_t> mark(nfa.size(), 0);
  std::unordered_map<std::vector<int>, int, VecHash> ids;
  std::vector<std::vector<int>> sets;
  auto id_of = [&](std::vector<int> set) -> int {
    auto [it, fresh] = ids.emplace(std::move(set), static_cast<int>(sets.size()));
    if (fresh) sets.push_back(it->first);
    return it->second;
  };
  d->start = id_of(Closure(nfa, {body.start}, &mark));
  for (size_t i = 0; i < sets.size(); ++i) {
    if (--*budget < 0) return InvalidArgument("grammar too large (too many automaton states)");
    const std::vector<int> set = sets[i];
    d->next.resize(sets.size() * d->num_classes, -1);
    for (int c = 0; c < d->num_classes; ++c) {
      const int b = representative[c];
      std::vector<int> targets;
      for (int s : set) {
        for (const Nfa::Edge& e : nfa.edges(s)) {
          if (e.kind == Nfa::Edge::kBytes && e.lo <= b && b <= e.hi) targets.push_back(e.to);
        }
      }
      if (targets.empty()) continue;
      std::sort(targets.begin(), targets.end());
      targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
      int t = id_of(Closure(nfa, std::move(targets), &mark));
      d->next.resize(sets.size() * d->num_classes, -1);
      d->next[i * d->num_classes + c] = t;
    }
    std::map<int, std::vector<int>> calls;
    for (int s : set) {
      for (const Nfa::Edge& e : nfa.edges(s)) {
        if (e.kind == Nfa::Edge::kCall) calls[e.rule].push_back(e.to);
      }
    }
    d->calls.resize(sets.size());
    for (auto& [rule, targets] : calls) {
      std::sort(targets.begin(), targets.end());
      targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
      int t = id_of(Closure(nfa, std::move(targets), &mark));
      d->calls[i].emplace_back(rule, t);
    }
  }
  const size_t n = sets.size();
  d->next.resize(n * d->num_classes, -1);
  d->calls.resize(n);
  d->accept.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    d->accept[i] = std::binary_search(sets[i].begin(), sets[i].end(), body.end);
  }
  return Status();
}

// The states of `d` from which the rule can complete: a backward search from the accepting
// states over byte edges and the call edges of `productive` callees.
std::vector<uint8_t> LiveStates(const Dfa& d, const std::vector<uint8_t>& productive) {
  const int n = d.size();
  std::vector<std::vector<int32_t>> back(n);
  for (int s = 0; s < n; ++s) {
    for (int c = 0; c < d.num_classes; ++c) {
      int t = d.next[s * d.num_classes + c];
      if (t >= 0) back[t].push_back(s);
    }
    for (const auto& [callee, t] : d.calls[s]) {
      if (productive[callee]) back[t].push_back(s);
    }
  }
  std::vector<uint8_t> live(n, 0);
  std::vector<int32_t> work;
  for (int s = 0; s < n; ++s) {
    if (d.accept[s]) {
      live[s] = 1;
      work.push_back(s);
    }
  }
  while (!work.empty()) {
    int t = work.back();
    work.pop_back();
    for (int32_t s : back[t]) {
      if (!live[s]) {
        live[s] = 1;
        work.push_back(s);
      }
    }
  }
  return live;
}

// Drops the transitions into states from which the rule cannot complete (calls to rules that can
// never complete count as impassable).
void Prune(std::vector<Dfa>* rules) {
  const int nr = static_cast<int>(rules->size());
  std::vector<uint8_t> productive(nr, 0);
  std::vector<std::vector<uint8_t>> live(nr);
  for (bool changed = true; changed;) {  // at most one round per rule
    changed = false;
    for (int r = 0; r < nr; ++r) {
      live[r] = LiveStates((*rules)[r], productive);
      if (!productive[r] && live[r][(*rules)[r].start]) productive[r] = changed = true;
    }
  }
  for (int r = 0; r < nr; ++r) {
    Dfa& d = (*rules)[r];
    d.has_bytes.assign(d.size(), 0);
    for (int s = 0; s < d.size(); ++s) {
      for (int c = 0; c < d.num_classes; ++c) {
        int32_t& t = d.next[s * d.num_classes + c];
        if (t >= 0 && !live[r][t]) t = -1;
        if (t >= 0) d.has_bytes[s] = 1;
      }
      std::erase_if(d.calls[s], [&](const std::pair<int32_t, int32_t>& call) {
        return !productive[call.first] || !live[r][call.second];
      });
    }
  }
}

}  // namespace

int Grammar::AddRule(std::string name) {
  rules_.push_back({std::move(name), Nfa(), {}});
  return static_cast<int>(rules_.size()) - 1;
}

int64_t Grammar::size() const {
  int64_t n = 0;
  for (const Rule& r : rules_) n += r.nfa.size();
  return n;
}

Result<std::shared_ptr<const CompiledGrammar>> CompiledGrammar::Compile(
    const Grammar& g, const CompileLimits& limits) {
  if (g.num_rules() == 0) return InvalidArgument("empty grammar");
  if (g.size() > limits.max_nfa_states) {
    return InvalidArgument(
        fmt::format("grammar too large ({} automaton states before determinization)", g.size()));
  }
  RETURN_IF_ERROR(CheckNoLeftRecursion(g));
  auto c = std::shared_ptr<CompiledGrammar>(new CompiledGrammar());
  c->root_ = g.root();
  int64_t budget = limits.max_dfa_states;
  c->rules_.resize(g.num_rules());
  for (int r = 0; r < g.num_rules(); ++r) {
    if (g.body(r).start < 0) return InvalidArgument("rule '" + g.name(r) + "' has no body");
    RETURN_IF_ERROR(Determinize(g.nfa(r), g.body(r), &budget, &c->rules_[r]));
  }
  Prune(&c->rules_);
  const Dfa& root = c->rules_[c->root_];
  bool root_live =
      root.accept[root.start] || root.has_bytes[root.start] || !root.calls[root.start].empty();
  if (!root_live) return InvalidArgument("the grammar matches nothing");
  return std::shared_ptr<const CompiledGrammar>(std::move(c));
}

int64_t CompiledGrammar::size() const {
  int64_t n = 0;
  for (const Dfa& d : rules_) n += d.size();
  return n;
}

Status CheckNoLeftRecursion(const Grammar& g) {
  const int nr = g.num_rules();
  // Nullable rules (fixpoint), then the rules each rule can call before reading a byte.
  std::vector<bool> nullable(nr, false);
  auto reach = [&](int r, std::vector<int>* calls) -> bool {
    const Nfa& n = g.nfa(r);
    std::vector<bool> seen(n.size(), false);
    std::vector<int> stack = {g.body(r).start};
    seen[g.body(r).start] = true;
    bool end = false;
    while (!stack.empty()) {
      int s = stack.back();
      stack.pop_back();
      if (s == g.body(r).end) end = true;
      for (const Nfa::Edge& e : n.edges(s)) {
        bool pass = e.kind == Nfa::Edge::kEpsilon;
        if (e.kind == Nfa::Edge::kCall) {
          if (calls) calls->push_back(e.rule);
          pass = nullable[e.rule];
        }
        if (pass && !seen[e.to]) {
          seen[e.to] = true;
          stack.push_back(e.to);
        }
      }
    }
    return end;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (int r = 0; r < nr; ++r) {
      if (!nullable[r] && reach(r, nullptr)) nullable[r] = changed = true;
    }
  }
  std::vector<std::vector<int>> left(nr);
  for (int r = 0; r < nr; ++r) reach(r, &left[r]);
  std::vector<int> state(nr, 0);  // 0 new, 1 on stack, 2 done
  std::function<int(int)> dfs = [&](int r) -> int {
    state[r] = 1;
    for (int c : left[r]) {
      if (state[c] == 1) return c;
      if (state[c] == 0) {
        int found = dfs(c);
        if (found >= 0) return found;
      }
    }
    state[r] = 2;
    return -1;
  };
  for (int r = 0; r < nr; ++r) {
    if (state[r] != 0) continue;
    int found = dfs(r);
    if (found >= 0) {
      return InvalidArgument("grammar: rule '" + g.name(found) +
                             "' is left-recursive (it can reach itself before reading any "
                             "character); rewrite it with repetition");
    }
  }
  return Status();
}

}  // namespace modelcar::llm::grammar
