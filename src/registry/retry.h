// Retry policy for registry traffic: bounded attempts with exponential backoff and full jitter,
// honouring Retry-After. Retryable: transport failures (Status code Unavailable) and HTTP 408, 429
// and 5xx except 501. Sleeps wake up early when a cancellation is requested (Ctrl-C).
#ifndef MODELCAR_REGISTRY_RETRY_H_
#define MODELCAR_REGISTRY_RETRY_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

#include "base/status.h"

namespace modelcar::registry {

struct RetryPolicy {
  int max_attempts = 6;  // total tries, including the first
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{10000};
};

bool IsRetryableHttp(long status);

// Delay before retry number `attempt` (1 = first retry): random in [0, min(max, base*2^(a-1))],
// or `retry_after` when the server sent one (capped at 60 s).
std::chrono::milliseconds BackoffDelay(const RetryPolicy& policy, int attempt,
                                       std::optional<std::chrono::milliseconds> retry_after);

// Parses a Retry-After value in seconds ("120"); HTTP dates are not supported (nullopt).
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value);

// Sleeps `d` in small slices; returns Cancelled when a cancellation is requested meanwhile.
Status SleepUnlessCancelled(std::chrono::milliseconds d);

// Runs `attempt` until it returns OK or a non-Unavailable error, at most policy.max_attempts times.
// `attempt` may set *retry_after (from a Retry-After header) before failing.
Status WithRetries(
    const RetryPolicy& policy,
    const std::function<Status(std::optional<std::chrono::milliseconds>* retry_after)>& attempt);

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_RETRY_H_
