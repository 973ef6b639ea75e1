// Arrays (json_schema_builder.h): prefixItems, items (a schema or false), minItems, maxItems.
#include <fmt/format.h>

#include <algorithm>

#include "llm/grammar/json_schema_builder.h"

namespace modelcar::llm::grammar::json_schema_internal {

Frag Builder::Array(Nfa& n, const json& s, const std::string& path) {
  std::vector<const json*> prefix;
  if (s.contains("prefixItems")) {
    if (!s["prefixItems"].is_array()) Fail(path, "prefixItems must be a list of schemas");
    for (const json& p : s["prefixItems"]) prefix.push_back(&p);
  }
  static const json kAny = json::object();
  const json* items = &kAny;
  bool more = true;  // items after the prefix allowed
  if (s.contains("items")) {
    const json& it = s["items"];
    if (it.is_boolean()) {
      more = it.get<bool>();
    } else if (it.is_object()) {
      items = &it;
    } else {
      Fail(path, "items must be a schema (a list is prefixItems)");
    }
  }
  const int64_t min = Count(s, "minItems", path).value_or(0);
  std::optional<int64_t> max = Count(s, "maxItems", path);
  if (!more) max = max ? std::min<int64_t>(*max, prefix.size()) : int64_t(prefix.size());
  if (max && *max < min) Fail(path, "no array fits minItems/maxItems/items");
  const int64_t explicit_states = std::max<int64_t>({min, int64_t(prefix.size()), 1});
  if (explicit_states > 1000 || (max && *max > 1000)) {
    Fail(path, "minItems/maxItems above 1000 are not supported");
  }
  auto elem = [&](int64_t i) -> Frag {
    const json& sch = i < int64_t(prefix.size()) ? *prefix[i] : *items;
    return Value(n, sch,
                 path + (i < int64_t(prefix.size()) ? fmt::format("/prefixItems/{}", i)
                                                    : std::string("/items")));
  };
  Frag open = Open(n, '['), close = Close(n, ']');
  // q_i: after i elements. Explicit up to `limit`; past that a loop (unbounded max).
  const int64_t limit = max ? *max : explicit_states;
  int cur = n.NewState();
  n.AddEpsilon(open.end, cur);
  for (int64_t i = 0; i < limit; ++i) {
    if (i >= min) n.AddEpsilon(cur, close.start);
    Frag e = i == 0 ? elem(0) : n.Seq({Punct(n, ','), elem(i)});
    n.AddEpsilon(cur, e.start);
    cur = e.end;
  }
  n.AddEpsilon(cur, close.start);
  if (!max) {
    Frag loop = n.Seq({Punct(n, ','), elem(limit)});
    n.AddEpsilon(cur, loop.start);
    n.AddEpsilon(loop.end, cur);
  }
  return {open.start, close.end};
}

}  // namespace modelcar::llm::grammar::json_schema_internal
