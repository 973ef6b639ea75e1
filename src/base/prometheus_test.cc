#include "base/prometheus.h"

#include <gtest/gtest.h>

#include <array>

namespace modelcar {
namespace {

TEST(PrometheusTextTest, HeadersSamplesAndLabels) {
  PrometheusText p;
  p.Header("x_total", "counter", "Things counted.");
  p.Sample("x_total", PrometheusText::Label("kind", "a\"b\\c\nd"), uint64_t{18446744073709551615u});
  p.Header("y", "gauge", "");
  p.Sample("y", "", 0.25);
  p.Sample("y", "", 3.0);
  EXPECT_EQ(p.str(),
            "# HELP x_total Things counted.\n"
            "# TYPE x_total counter\n"
            "x_total{kind=\"a\\\"b\\\\c\\nd\"} 18446744073709551615\n"
            "# TYPE y gauge\n"
            "y 0.25\n"
            "y 3\n");
}

TEST(PrometheusTextTest, HistogramWithAndWithoutLabels) {
  std::array<double, 2> bounds = {0.005, 1.0};
  std::array<uint64_t, 2> cumulative = {1, 3};
  PrometheusText p;
  p.Histogram("h", "m=\"a\"", bounds, cumulative, 2.5, 4);
  p.Histogram("g", "", bounds, cumulative, 0.5, 3);
  EXPECT_EQ(p.Take(),
            "h_bucket{m=\"a\",le=\"0.005\"} 1\n"
            "h_bucket{m=\"a\",le=\"1\"} 3\n"
            "h_bucket{m=\"a\",le=\"+Inf\"} 4\n"
            "h_sum{m=\"a\"} 2.5\n"
            "h_count{m=\"a\"} 4\n"
            "g_bucket{le=\"0.005\"} 1\n"
            "g_bucket{le=\"1\"} 3\n"
            "g_bucket{le=\"+Inf\"} 3\n"
            "g_sum 0.5\n"
            "g_count 3\n");
}

}  // namespace
}  // namespace modelcar
