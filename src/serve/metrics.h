// Prometheus metrics of the server, with vLLM's names so existing dashboards and autoscalers
// (KEDA on vllm:num_requests_waiting, ...) work unchanged. Every series has the label
// model_name="<served model name>".
//
//   vllm:num_requests_running / vllm:num_requests_waiting    gauges
//   vllm:kv_cache_usage_perc                                 gauge, 0..1
//   vllm:prompt_tokens_total / vllm:generation_tokens_total  counters
//   vllm:request_success_total{finished_reason=...}          counter
//   vllm:num_preemptions_total                               counter
//   vllm:prefix_cache_queries_total / vllm:prefix_cache_hits_total  counters, in prompt tokens
//   vllm:time_to_first_token_seconds                         histogram
//   vllm:inter_token_latency_seconds                         histogram
//   vllm:time_per_output_token_seconds                       histogram (same samples, older name)
//   vllm:e2e_request_latency_seconds                         histogram
//
// Thread-safe: all methods may be called concurrently.
#ifndef MODELCAR_SERVE_METRICS_H_
#define MODELCAR_SERVE_METRICS_H_

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/prometheus.h"
#include "serve/finish_reason.h"

namespace modelcar::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Appends the _bucket/_sum/_count lines of `name` with `labels` ("model_name=\"x\"").
  void Render(std::string_view name, std::string_view labels, PrometheusText* out) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

class Metrics {
 public:
  explicit Metrics(std::string model_name);

  void SetRunning(int n);
  void SetWaiting(int n);
  void SetKvUsage(double fraction);
  void AddPromptTokens(int64_t n);
  void AddGenerationTokens(int64_t n);
  void AddPreemption();
  // A prompt of `queried` tokens looked up in the prefix cache, `hit` of them found.
  void AddPrefixCacheQuery(int64_t queried, int64_t hit);
  void ObserveTimeToFirstToken(double seconds);
  void ObserveInterTokenLatency(double seconds);
  void ObserveE2eLatency(double seconds);
  void CountFinished(FinishReason reason);

  // Prometheus text exposition format (version 0.0.4).
  std::string Render() const;

 private:
  const std::string labels_;
  mutable std::mutex mu_;
  int running_ = 0;
  int waiting_ = 0;
  double kv_usage_ = 0;
  int64_t prompt_tokens_ = 0;
  int64_t generation_tokens_ = 0;
  int64_t preemptions_ = 0;
  int64_t prefix_queries_ = 0, prefix_hits_ = 0;
  std::array<int64_t, 4> finished_{};  // by FinishReason
  Histogram ttft_;
  Histogram itl_;
  Histogram e2e_;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_METRICS_H_
