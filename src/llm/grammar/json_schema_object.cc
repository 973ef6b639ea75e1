// Objects (json_schema_builder.h): properties in the schema's order, required, and
// additionalProperties (none when properties are listed and it is absent: xgrammar's strict mode).
#include <set>

#include "llm/grammar/json_schema_builder.h"

namespace modelcar::llm::grammar::json_schema_internal {

Frag Builder::Object(Nfa& n, const json& s, const std::string& path) {
  std::vector<std::pair<std::string, const json*>> props;
  static const json kAny = json::object();
  if (s.contains("properties")) {
    const json& p = s["properties"];
    if (!p.is_object()) Fail(path, "properties must be an object");
    for (auto it = p.begin(); it != p.end(); ++it) props.emplace_back(it.key(), &it.value());
  }
  std::set<std::string> required;
  if (s.contains("required")) {
    if (!s["required"].is_array()) Fail(path, "required must be a list of names");
    for (const json& r : s["required"]) {
      if (!r.is_string()) Fail(path, "required must be a list of names");
      required.insert(r.get<std::string>());
      bool known = false;
      for (const auto& [k, v] : props) known = known || k == r.get<std::string>();
      if (!known) props.emplace_back(r.get<std::string>(), &kAny);
    }
  }
  // Extra keys: additionalProperties true or a schema; absent means none when properties are
  // listed (xgrammar's strict mode), any otherwise.
  const json* extra = nullptr;
  if (s.contains("additionalProperties")) {
    const json& a = s["additionalProperties"];
    if (a.is_boolean()) {
      if (a.get<bool>()) extra = &kAny;
    } else {
      extra = &a;
    }
  } else if (props.empty()) {
    extra = &kAny;
  }
  if (o_.no_additional_properties) extra = nullptr;

  // States (i, e): at property i, e = something already written (a comma is needed).
  const size_t np = props.size();
  std::vector<int> st0(np + 1), st1(np + 1);
  for (size_t i = 0; i <= np; ++i) {
    st0[i] = n.NewState();
    st1[i] = n.NewState();
  }
  for (size_t i = 0; i < np; ++i) {
    const std::string key = json(props[i].first).dump();
    Frag first = n.Seq({n.Literal(key), Punct(n, ':')});
    Frag next = n.Seq({Punct(n, ','), n.Literal(key), Punct(n, ':')});
    Frag value = Value(n, *props[i].second, path + "/properties/" + props[i].first);
    n.AddEpsilon(st0[i], first.start);
    n.AddEpsilon(st1[i], next.start);
    n.AddEpsilon(first.end, value.start);
    n.AddEpsilon(next.end, value.start);
    n.AddEpsilon(value.end, st1[i + 1]);
    if (!required.count(props[i].first)) {
      n.AddEpsilon(st0[i], st0[i + 1]);
      n.AddEpsilon(st1[i], st1[i + 1]);
    }
  }
  if (extra) {
    // Further "key": value pairs after the listed ones.
    Frag key0 = n.Seq({JsonStringFrag(n), Punct(n, ':')});
    Frag key1 = n.Seq({Punct(n, ','), JsonStringFrag(n), Punct(n, ':')});
    Frag value = Value(n, *extra, path + "/additionalProperties");
    n.AddEpsilon(st0[np], key0.start);
    n.AddEpsilon(st1[np], key1.start);
    n.AddEpsilon(key0.end, value.start);
    n.AddEpsilon(key1.end, value.start);
    n.AddEpsilon(value.end, st1[np]);
  }
  Frag open = Open(n, '{'), close = Close(n, '}');
  n.AddEpsilon(open.end, st0[0]);
  n.AddEpsilon(st0[np], close.start);
  n.AddEpsilon(st1[np], close.start);
  return {open.start, close.end};
}

}  // namespace modelcar::llm::grammar::json_schema_internal
