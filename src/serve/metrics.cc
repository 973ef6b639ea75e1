#include "serve/metrics.h"

#include <algorithm>

namespace modelcar::serve {
namespace {

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

void Histogram::Render(std::string_view name, std::string_view labels, PrometheusText* out) const {
  std::vector<uint64_t> cumulative(bounds_.size());
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) cumulative[i] = cum += counts_[i];
  out->Histogram(name, labels, bounds_, cumulative, sum_, count_);
}

Metrics::Metrics(std::string model_name)
    : labels_(PrometheusText::Label("model_name", model_name)),
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
void Metrics::AddPrefixCacheQuery(int64_t queried, int64_t hit) {
  std::lock_guard l(mu_);
  prefix_queries_ += queried;
  prefix_hits_ += hit;
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
void Metrics::CountFinished(FinishReason reason) {
  std::lock_guard l(mu_);
  ++finished_[static_cast<size_t>(reason)];
}

std::string Metrics::Render() const {
  std::lock_guard l(mu_);
  PrometheusText out;
  // A gauge or counter with this model's label: its HELP and TYPE lines, then its value.
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help,
                    auto value) {
    out.Header(name, type, help);
    out.Sample(name, labels_, value);
  };
  auto histogram = [&](std::string_view name, std::string_view help, const Histogram& h) {
    out.Header(name, "histogram", help);
    h.Render(name, labels_, &out);
  };
  metric("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.",
         running_);
  metric("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.",
         waiting_);
  metric("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.",
         kv_usage_);
  metric("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.",
         prompt_tokens_);
  metric("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.",
         generation_tokens_);
  metric("vllm:num_preemptions_total", "counter", "Cumulative number of preemptions.",
         preemptions_);
  metric("vllm:prefix_cache_queries_total", "counter",
         "Prefix cache queries, in terms of number of queried tokens.", prefix_queries_);
  metric("vllm:prefix_cache_hits_total", "counter",
         "Prefix cache hits, in terms of number of cached tokens.", prefix_hits_);
  out.Header("vllm:request_success_total", "counter", "Count of finished requests by reason.");
  // Requests are counted by how their sequences ended in the scheduler (never tool_calls).
  for (FinishReason reason : {FinishReason::kStop, FinishReason::kLength, FinishReason::kAbort}) {
    out.Sample("vllm:request_success_total",
               labels_ + "," + PrometheusText::Label("finished_reason", FinishReasonName(reason)),
               finished_[static_cast<size_t>(reason)]);
  }
  histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
            ttft_);
  histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
            itl_);
  histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.",
            itl_);
  histogram("vllm:e2e_request_latency_seconds",
            "Histogram of end to end request latency in seconds.", e2e_);
  return out.Take();
}

}  // namespace modelcar::serve
