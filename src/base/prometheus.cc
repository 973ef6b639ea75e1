#include "base/prometheus.h"

namespace modelcar {

std::string PrometheusText::Label(std::string_view key, std::string_view value) {
  std::string s(key);
  s += "=\"";
  for (char c : value) {
    if (c == '\n') {
      s += "\\n";
      continue;
    }
    if (c == '\\' || c == '"') s += '\\';
    s += c;
  }
  s += '"';
  return s;
}

void PrometheusText::Header(std::string_view name, std::string_view type, std::string_view help) {
  if (!help.empty()) fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n", name, help);
  fmt::format_to(std::back_inserter(out_), "# TYPE {} {}\n", name, type);
}

void PrometheusText::AppendName(std::string_view name, std::string_view labels) {
  out_ += name;
  if (!labels.empty()) {
    out_ += '{';
    out_ += labels;
    out_ += '}';
  }
}

void PrometheusText::Histogram(std::string_view name, std::string_view labels,
                               std::span<const double> bounds, std::span<const uint64_t> cumulative,
                               double sum, uint64_t count) {
  std::string sep = labels.empty() ? "" : std::string(labels) + ",";
  auto out = std::back_inserter(out_);
  for (size_t i = 0; i < bounds.size() && i < cumulative.size(); ++i) {
    fmt::format_to(out, "{}_bucket{{{}le=\"{}\"}} {}\n", name, sep, bounds[i], cumulative[i]);
  }
  fmt::format_to(out, "{}_bucket{{{}le=\"+Inf\"}} {}\n", name, sep, count);
  Sample(fmt::format("{}_sum", name), labels, sum);
  Sample(fmt::format("{}_count", name), labels, count);
}

}  // namespace modelcar
