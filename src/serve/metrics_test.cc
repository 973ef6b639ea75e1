#include "serve/metrics.h"

#include <gtest/gtest.h>

namespace modelcar::serve {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(Metrics, RendersVllmNames) {
  Metrics m("qwen");
  m.SetRunning(3);
  m.SetWaiting(1);
  m.SetKvUsage(0.25);
  m.AddPromptTokens(10);
  m.AddGenerationTokens(4);
  m.ObserveTimeToFirstToken(0.03);
  m.ObserveInterTokenLatency(0.02);
  m.ObserveE2eLatency(1.5);
  m.CountFinished(FinishReason::kStop);
  m.AddPrefixCacheQuery(100, 64);
  m.AddPrefixCacheQuery(20, 0);
  std::string t = m.Render();
  EXPECT_TRUE(Has(t, "vllm:prefix_cache_queries_total{model_name=\"qwen\"} 120\n")) << t;
  EXPECT_TRUE(Has(t, "vllm:prefix_cache_hits_total{model_name=\"qwen\"} 64\n"));
  EXPECT_TRUE(Has(t, "vllm:num_requests_running{model_name=\"qwen\"} 3\n")) << t;
  EXPECT_TRUE(Has(t, "vllm:num_requests_waiting{model_name=\"qwen\"} 1\n"));
  EXPECT_TRUE(Has(t, "vllm:kv_cache_usage_perc{model_name=\"qwen\"} 0.25\n"));
  EXPECT_TRUE(Has(t, "vllm:prompt_tokens_total{model_name=\"qwen\"} 10\n"));
  EXPECT_TRUE(Has(t, "vllm:generation_tokens_total{model_name=\"qwen\"} 4\n"));
  EXPECT_TRUE(
      Has(t, "vllm:request_success_total{model_name=\"qwen\",finished_reason=\"stop\"} 1\n"));
  EXPECT_TRUE(Has(t, "# TYPE vllm:time_to_first_token_seconds histogram\n"));
  EXPECT_TRUE(
      Has(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"qwen\",le=\"0.02\"} 0\n"));
  EXPECT_TRUE(
      Has(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"qwen\",le=\"0.04\"} 1\n"));
  EXPECT_TRUE(
      Has(t, "vllm:time_to_first_token_seconds_bucket{model_name=\"qwen\",le=\"+Inf\"} 1\n"));
  EXPECT_TRUE(Has(t, "vllm:e2e_request_latency_seconds_count{model_name=\"qwen\"} 1\n"));
  EXPECT_TRUE(Has(t, "vllm:inter_token_latency_seconds_sum{model_name=\"qwen\"} 0.02\n"));
  EXPECT_TRUE(Has(t, "vllm:time_per_output_token_seconds_count{model_name=\"qwen\"} 1\n"));
}

TEST(Metrics, EscapesLabel) {
  Metrics m("a\"b");
  EXPECT_TRUE(Has(m.Render(), "model_name=\"a\\\"b\""));
}

}  // namespace
}  // namespace modelcar::serve
