// $ref (json_schema_builder.h): local pointers only; a reference is inlined up to 8 times, else
// (and always when recursive) built once as a rule of its own and called.
#include <algorithm>

#include "llm/grammar/json_schema_builder.h"

namespace modelcar::llm::grammar::json_schema_internal {

const json& Builder::Resolve(const std::string& ref, const std::string& path) {
  if (ref.empty() || ref[0] != '#') Fail(path, "only local $ref (\"#...\") is supported: " + ref);
  if (ref == "#") return root_;
  if (ref.size() < 2 || ref[1] != '/') Fail(path, "unsupported $ref " + ref);
  try {
    return root_.at(json::json_pointer(ref.substr(1)));
  } catch (const json::exception&) {
    Fail(path, "$ref " + ref + " does not resolve");
  }
}

Frag Builder::Ref(Nfa& n, const json& s, const std::string& path) {
  if (!s["$ref"].is_string()) Fail(path, "$ref must be a string");
  const std::string ref = s["$ref"];
  const json& target = Resolve(ref, path);
  if (std::find(expanding_.begin(), expanding_.end(), ref) == expanding_.end() &&
      ++inlined_[ref] <= 8) {
    expanding_.push_back(ref);
    Frag f = Value(n, target, ref);
    expanding_.pop_back();
    return f;
  }
  // Recursive (or used often): a rule of its own, called here.
  auto it = ref_rules_.find(ref);
  if (it == ref_rules_.end()) {
    int r = g_.AddRule(ref);
    it = ref_rules_.emplace(ref, r).first;
    pending_.push_back(ref);
  }
  return n.Call(it->second);
}

void Builder::BuildPendingRefs() {
  while (!pending_.empty()) {
    std::string ref = pending_.back();
    pending_.pop_back();
    int r = ref_rules_.at(ref);
    expanding_ = {ref};
    g_.SetBody(r, Value(g_.nfa(r), Resolve(ref, ref), ref));
  }
}

}  // namespace modelcar::llm::grammar::json_schema_internal
