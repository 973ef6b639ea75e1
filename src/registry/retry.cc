#include "registry/retry.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <random>
#include <thread>

#include "http/client.h"

namespace modelcar::registry {

bool IsRetryableHttp(long status) {
  return status == 408 || status == 429 || (status >= 500 && status != 501 && status < 600);
}

std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int attempt,
                                       std::optional<std::chrono::milliseconds> retry_after) {
  if (retry_after) return std::min(*retry_after, std::chrono::milliseconds(60000));
  int shift = std::clamp(attempt - 1, 0, 20);
  int64_t cap = std::min<int64_t>(policy.max_delay.count(), policy.base_delay.count() << shift);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> dist(cap / 4, std::max<int64_t>(cap, 1));
  return std::chrono::milliseconds(dist(rng));
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view v) {
  int64_t secs = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
  if (ec != std::errc() || p != v.data() + v.size() || secs < 0) return std::nullopt;
  return std::chrono::milliseconds(secs * 1000);
}

Status SleepUnlessCancelled(std::chrono::milliseconds d) {
  auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
    if (http::CancelRequested()) return Cancelled("interrupted");
    std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(50), std::chrono::duration_cast<std::chrono::milliseconds>(
                                           end - std::chrono::steady_clock::now()) +
                                           std::chrono::milliseconds(1)));
  }
  return Status();
}

Status WithRetries(
    const RetryPolicy& policy,
    const std::function<Status(std::optional<std::chrono::milliseconds>*)>& attempt) {
  Status last;
  for (int i = 1;; ++i) {
    std::optional<std::chrono::milliseconds> retry_after;
    last = attempt(&retry_after);
    if (last.ok() || last.code() != Code::kUnavailable || i >= policy.max_attempts) break;
    RETURN_IF_ERROR(SleepUnlessCancelled(BackoffDelay(policy, i, retry_after)));
  }
  if (!last.ok() && last.code() == Code::kUnavailable && policy.max_attempts > 1) {
    return last.WithContext(fmt::format("gave up after {} attempts", policy.max_attempts));
  }
  return last;
}

}  // namespace modelcar::registry
