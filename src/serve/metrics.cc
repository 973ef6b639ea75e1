#include "serve/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace modelcar::serve {
namespace {

std::string EscapeLabel(std::string_view v) {
  std::string s;
  for (char c : v) {
    if (c == '\\' || c == '"') s += '\\';
    if (c == '\n') {
      s += "\\n";
      continue;
    }
    s += c;
  }
  return s;
}

void Header(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  *out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Sample(std::string* out, std::string_view name, std::string_view labels, double v) {
  *out += fmt::format("{}{{{}}} {}\n", name, labels, v);
}

const std::vector<double> kLatencyBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08,
                                             0.1,   0.25,  0.5,  0.75, 1.0,  2.5,  5.0,
                                             7.5,   10.0,  20.0, 40.0, 80.0, 160.0};
const std::vector<double> kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3, 0.4,
                                         0.5,  0.75,  1.0,  2.5,   5.0, 7.5,  10.0, 20.0};

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  ++counts_[i];
  ++count_;
  sum_ += v;
}

void Histogram::Render(std::string_view name, std::string_view labels, std::string* out) const {
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    *out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, bounds_[i], cum);
  }
  *out += fmt::format("{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, count_);
  *out += fmt::format("{}_sum{{{}}} {}\n", name, labels, sum_);
  *out += fmt::format("{}_count{{{}}} {}\n", name, labels, count_);
}

Metrics::Metrics(std::string model_name)
    : labels_("model_name=\"" + EscapeLabel(model_name) + "\""),
      ttft_(kLatencyBuckets),
      itl_(kItlBuckets),
      e2e_(kLatencyBuckets) {}

void Metrics::SetRunning(int n) {
  std::lock_guard l(mu_);
  running_ = n;
}
void Metrics::SetWaiting(int n) {
  std::lock_guard l(mu_);
  waiting_ = n;
}
void Metrics::SetKvUsage(double f) {
  std::lock_guard l(mu_);
  kv_usage_ = f;
}
void Metrics::AddPromptTokens(int64_t n) {
  std::lock_guard l(mu_);
  prompt_tokens_ += n;
}
void Metrics::AddGenerationTokens(int64_t n) {
  std::lock_guard l(mu_);
  generation_tokens_ += n;
}
void Metrics::AddPreemption() {
  std::lock_guard l(mu_);
  ++preemptions_;
}
void Metrics::ObserveTimeToFirstToken(double s) {
  std::lock_guard l(mu_);
  ttft_.Observe(s);
}
void Metrics::ObserveInterTokenLatency(double s) {
  std::lock_guard l(mu_);
  itl_.Observe(s);
}
void Metrics::ObserveE2eLatency(double s) {
  std::lock_guard l(mu_);
  e2e_.Observe(s);
}
void Metrics::CountFinished(std::string_view reason) {
  std::lock_guard l(mu_);
  auto it = finished_.find(reason);
  if (it == finished_.end()) it = finished_.emplace(std::string(reason), 0).first;
  ++it->second;
}

std::string Metrics::Render() const {
  std::lock_guard l(mu_);
  std::string out;
  Header(&out, "vllm:num_requests_running", "gauge",
         "Number of requests in model execution batches.");
  Sample(&out, "vllm:num_requests_running", labels_, running_);
  Header(&out, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
  Sample(&out, "vllm:num_requests_waiting", labels_, waiting_);
  Header(&out, "vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
  Sample(&out, "vllm:kv_cache_usage_perc", labels_, kv_usage_);
  Header(&out, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
  Sample(&out, "vllm:prompt_tokens_total", labels_, double(prompt_tokens_));
  Header(&out, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
  Sample(&out, "vllm:generation_tokens_total", labels_, double(generation_tokens_));
  Header(&out, "vllm:num_preemptions_total", "counter", "Cumulative number of preemptions.");
  Sample(&out, "vllm:num_preemptions_total", labels_, double(preemptions_));
  Header(&out, "vllm:request_success_total", "counter", "Count of finished requests by reason.");
  for (const char* reason : {"stop", "length", "abort"}) {
    auto it = finished_.find(reason);
    Sample(&out, "vllm:request_success_total", labels_ + ",finished_reason=\"" + reason + "\"",
           double(it == finished_.end() ? 0 : it->second));
  }
  Header(&out, "vllm:time_to_first_token_seconds", "histogram",
         "Histogram of time to first token in seconds.");
  ttft_.Render("vllm:time_to_first_token_seconds", labels_, &out);
  Header(&out, "vllm:inter_token_latency_seconds", "histogram",
         "Histogram of inter-token latency in seconds.");
  itl_.Render("vllm:inter_token_latency_seconds", labels_, &out);
  Header(&out, "vllm:time_per_output_token_seconds", "histogram",
         "Histogram of time per output token in seconds.");
  itl_.Render("vllm:time_per_output_token_seconds", labels_, &out);
  Header(&out, "vllm:e2e_request_latency_seconds", "histogram",
         "Histogram of end to end request latency in seconds.");
  e2e_.Render("vllm:e2e_request_latency_seconds", labels_, &out);
  return out;
}

}  // namespace modelcar::serve
