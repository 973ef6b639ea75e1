#include "llm/grammar/integer_range.h"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace modelcar::llm::grammar {
namespace {

// Decimal strings of equal length, a <= b: the numbers in between, digit by digit.
std::string SameLength(const std::string& a, const std::string& b) {
  if (a == b) return a;
  const size_t n = a.size();
  if (n == 1) return std::string("[") + a[0] + "-" + b[0] + "]";
  if (a[0] == b[0])
    return std::string(1, a[0]) + "(?:" + SameLength(a.substr(1), b.substr(1)) + ")";
  std::string out =
      std::string(1, a[0]) + "(?:" + SameLength(a.substr(1), std::string(n - 1, '9')) + ")";
  if (a[0] + 1 <= b[0] - 1) {
    out += fmt::format("|[{}-{}]\\d{{{}}}", char(a[0] + 1), char(b[0] - 1), n - 1);
  }
  out +=
      "|" + std::string(1, b[0]) + "(?:" + SameLength(std::string(n - 1, '0'), b.substr(1)) + ")";
  return out;
}

// Non-negative integers in [lo, hi] (hi unset: no upper bound), as a regex without sign.
std::string NonNegative(int64_t lo, std::optional<int64_t> hi) {
  const std::string a = std::to_string(lo);
  std::vector<std::string> parts;
  const size_t top = hi ? std::to_string(*hi).size() : a.size();
  for (size_t n = a.size(); n <= top; ++n) {
    std::string from = n == a.size() ? a : "1" + std::string(n - 1, '0');
    std::string to = hi && n == top ? std::to_string(*hi) : std::string(n, '9');
    if (n == 1 && from == "0" && to == "0") {
      parts.push_back("0");
    } else {
      parts.push_back(SameLength(from, to));
    }
  }
  if (!hi && a.size() < 18) {
    parts.push_back(fmt::format("[1-9]\\d{{{},17}}", a.size()));
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "|") + p;
  return "(?:" + out + ")";
}

}  // namespace

std::string IntegerRangeRegex(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> parts;
  if (!lo || *lo < 0) {
    // Negative values -k: k in [max(1, -hi), -lo].
    int64_t kmin = hi && *hi < 0 ? -*hi : 1;
    std::optional<int64_t> kmax;
    if (lo) kmax = -*lo;
    parts.push_back("-" + NonNegative(kmin, kmax));
  }
  if (!hi || *hi >= 0) parts.push_back(NonNegative(lo && *lo > 0 ? *lo : 0, hi));
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "|") + p;
  return "(?:" + out + ")";
}

}  // namespace modelcar::llm::grammar
