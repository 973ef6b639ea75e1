// Strings (json_schema_builder.h): minLength/maxLength, pattern (the whole string), format.
#include <map>

#include "llm/grammar/json_schema_builder.h"

namespace modelcar::llm::grammar::json_schema_internal {

Frag Builder::String(Nfa& n, const json& s, const std::string& path) {
  auto min = Count(s, "minLength", path), max = Count(s, "maxLength", path);
  if (min && max && *max < *min) Fail(path, "maxLength < minLength");
  if (max && *max > 10000) Fail(path, "maxLength above 10000 is not supported");
  if (min && *min > 10000) Fail(path, "minLength above 10000 is not supported");
  const bool lengths = min || max;
  if (s.contains("pattern") || s.contains("format")) {
    if (lengths) {
      Fail(path, "unsupported JSON Schema keyword(s): minLength/maxLength together with " +
                     std::string(s.contains("pattern") ? "pattern" : "format"));
    }
    if (s.contains("pattern") && s.contains("format")) {
      Fail(path, "unsupported JSON Schema keyword(s): pattern together with format");
    }
    if (s.contains("pattern")) {
      if (!s["pattern"].is_string()) Fail(path, "pattern must be a string");
      std::string p = s["pattern"];
      // The pattern must match the whole string (anchored or not).
      if (!p.empty() && p[0] == '^') p.erase(0, 1);
      if (!p.empty() && p.back() == '$' && (p.size() < 2 || p[p.size() - 2] != '\\')) p.pop_back();
      return n.Seq({n.Literal("\""), Regex(n, p, path, "pattern"), n.Literal("\"")});
    }
    if (!s["format"].is_string()) Fail(path, "format must be a string");
    return n.Seq({n.Literal("\""), Regex(n, FormatRegex(s["format"], path), path, "format"),
                  n.Literal("\"")});
  }
  Frag body = n.Repeat([&] { return StringChar(n); }, int(min.value_or(0)), max ? int(*max) : -1);
  return n.Seq({n.Literal("\""), body, n.Literal("\"")});
}

std::string Builder::FormatRegex(const std::string& format, const std::string& path) {
  static const std::string kDate =
      "\\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|"
      "30)|02-(?:0[1-9]|1\\d|2[0-8]))";
  static const std::string kTime =
      "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,6})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d)";
  static const std::string kLabel = "[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
  static const std::string kOctet = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
  static const std::string kDur = "(?:\\d+H(?:\\d+M)?(?:\\d+S)?|\\d+M(?:\\d+S)?|\\d+S)";
  static const std::map<std::string, std::string> kFormats = {
      {"date", kDate},
      {"time", kTime},
      {"date-time", kDate + "T" + kTime},
      {"duration", "P(?:(?:\\d+Y(?:\\d+M)?(?:\\d+D)?|\\d+M(?:\\d+D)?|\\d+D)(?:T" + kDur + ")?|T" +
                       kDur + "|\\d+W)"},
      {"email", "[a-zA-Z0-9_+-]{1,32}(?:\\.[a-zA-Z0-9_+-]{1,32}){0,3}@(?:" + kLabel +
                    "\\.){1,3}[a-zA-Z]{2,12}"},
      {"hostname", kLabel + "(?:\\." + kLabel + "){0,2}"},
      {"ipv4", "(?:" + kOctet + "\\.){3}" + kOctet},
      {"ipv6", "(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"},
      {"uuid", "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"},
  };
  auto it = kFormats.find(format);
  if (it == kFormats.end())
    Fail(path, "unsupported JSON Schema keyword(s): format \"" + format + "\"");
  return it->second;
}

}  // namespace modelcar::llm::grammar::json_schema_internal
