// Integers and numbers (json_schema_builder.h): minimum, maximum, exclusiveMinimum,
// exclusiveMaximum (draft 4 booleans too) as integer-range regexes (integer_range.h).
#include <cmath>

#include "llm/grammar/integer_range.h"
#include "llm/grammar/json_schema_builder.h"

namespace modelcar::llm::grammar::json_schema_internal {

// A numeric keyword as an integral value (or nullopt when absent). Draft-4 boolean
// exclusiveMinimum/Maximum are folded into the bound by the caller.
std::optional<double> Builder::Bound(const json& s, const char* key, const std::string& path) {
  if (!s.contains(key) || s[key].is_boolean()) return std::nullopt;
  if (!s[key].is_number()) Fail(path, std::string(key) + " must be a number");
  double v = s[key].get<double>();
  if (!std::isfinite(v) || std::fabs(v) > 1e15) Fail(path, std::string(key) + " out of range");
  return v;
}

Frag Builder::Number(Nfa& n, const json& s, const std::string& path, bool integer) {
  auto lo = Bound(s, "minimum", path), hi = Bound(s, "maximum", path);
  auto xlo = Bound(s, "exclusiveMinimum", path), xhi = Bound(s, "exclusiveMaximum", path);
  const bool draft4_xlo = s.contains("exclusiveMinimum") && s["exclusiveMinimum"] == true;
  const bool draft4_xhi = s.contains("exclusiveMaximum") && s["exclusiveMaximum"] == true;
  bool lo_strict = draft4_xlo, hi_strict = draft4_xhi;
  if (xlo && (!lo || *xlo >= *lo)) {
    lo = xlo;
    lo_strict = true;
  }
  if (xhi && (!hi || *xhi <= *hi)) {
    hi = xhi;
    hi_strict = true;
  }
  if (integer) {
    std::optional<int64_t> a, b;
    if (lo) a = static_cast<int64_t>(lo_strict ? std::floor(*lo) + 1 : std::ceil(*lo));
    if (hi) b = static_cast<int64_t>(hi_strict ? std::ceil(*hi) - 1 : std::floor(*hi));
    if (a && b && *a > *b) Fail(path, "no integer lies within minimum/maximum");
    if (!a && !b) return Regex(n, kInteger, path, "integer");
    return Regex(n, IntegerRangeRegex(a, b), path, "integer");
  }
  if (!lo && !hi) return Regex(n, kNumber, path, "number");
  // Bounded numbers: integral bounds >= 0; plain decimals (no exponent).
  for (const auto& b : {lo, hi}) {
    if (b && (*b < 0 || std::floor(*b) != *b)) {
      Fail(path,
           "unsupported JSON Schema keyword(s): minimum/maximum other than integers >= 0 "
           "on a number");
    }
  }
  const int64_t a = lo ? static_cast<int64_t>(*lo) : 0;
  std::optional<int64_t> b;
  if (hi) b = static_cast<int64_t>(*hi);
  std::vector<std::string> parts;
  // Whole numbers in the range.
  int64_t ia = lo_strict ? a + 1 : a;
  std::optional<int64_t> ib = b;
  if (b && hi_strict) ib = *b - 1;
  if (!ib || ia <= *ib) parts.push_back(IntegerRangeRegex(ia, ib));
  // Fractions I.f with I in [ia, b - 1]: strictly between I and I + 1 <= b.
  std::optional<int64_t> fb;
  if (b) fb = *b - 1;
  if (!fb || ia <= *fb) parts.push_back(IntegerRangeRegex(ia, fb) + "\\.\\d{0,15}[1-9]");
  if (!lo) parts.push_back("-(?:0|[1-9]\\d{0,14})(?:\\.\\d{1,15})?");  // no lower bound
  if (parts.empty()) Fail(path, "no number lies within minimum/maximum");
  std::string re;
  for (const std::string& p : parts) re += (re.empty() ? "" : "|") + p;
  return Regex(n, re, path, "number");
}

}  // namespace modelcar::llm::grammar::json_schema_internal
