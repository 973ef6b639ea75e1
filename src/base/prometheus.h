// PrometheusText: builds a Prometheus text exposition (format 0.0.4) line by line, for the
// /metrics endpoints of serve, the webhook and the cache agent.
//
//   PrometheusText p;
//   p.Header("modelcar_cache_refs", "gauge", "Refs of the cache agent by state.");
//   p.Sample("modelcar_cache_refs", PrometheusText::Label("state", "present"), 3);
//   return p.Take();
//
// `labels` arguments are the text between the braces, already escaped (`a="x",b="y"`; Label()
// escapes one); empty means no braces. Numbers are printed in their shortest round-trip form
// ({fmt}'s "{}"), integers exactly. Not thread-safe; the caller holds its own lock while rendering.
#ifndef MODELCAR_BASE_PROMETHEUS_H_
#define MODELCAR_BASE_PROMETHEUS_H_

#include <fmt/format.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace modelcar {

class PrometheusText {
 public:
  // `key="value"` with backslash, double quote and newline escaped as the format requires.
  static std::string Label(std::string_view key, std::string_view value);

  // "# HELP name help" (left out when `help` is empty) and "# TYPE name type".
  void Header(std::string_view name, std::string_view type, std::string_view help);

  // "name{labels} value".
  template <typename T>
  requires std::is_arithmetic_v<T> &&
      (!std::is_same_v<T, bool>)void Sample(std::string_view name, std::string_view labels,
                                            T value) {
    AppendName(name, labels);
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
  }

  // A histogram's series: name_bucket{labels,le="bound"} with cumulative counts for each bound,
  // then le="+Inf" (= count), name_sum and name_count. `cumulative[i]` counts observations
  // <= bounds[i]; REQUIRES: cumulative.size() == bounds.size().
  void Histogram(std::string_view name, std::string_view labels, std::span<const double> bounds,
                 std::span<const uint64_t> cumulative, double sum, uint64_t count);

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void AppendName(std::string_view name, std::string_view labels);
  std::string out_;
};

}  // namespace modelcar

#endif  // MODELCAR_BASE_PROMETHEUS_H_
