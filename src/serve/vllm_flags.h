// vLLM's `vllm serve` command line as `modelcar serve` accepts it: the flags that change nothing
// for one CPU engine in one process (accepted, with one warning line each when given), the flags
// refused because honouring them is impossible here, and vLLM's human-readable integers.
// The implemented flags are registered by src/cli/serve_cmd.cc; docs/serve.md lists all of them.
//
// Pure data and functions; thread-safe.
#ifndef MODELCAR_SERVE_VLLM_FLAGS_H_
#define MODELCAR_SERVE_VLLM_FLAGS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::serve {

struct VllmFlag {
  const char* name;   // "--tensor-parallel-size"
  const char* alias;  // a short form ("-tp") or nullptr
  bool takes_value;   // false: a switch (vLLM's BooleanOptionalAction also has --no-<name>)
  // Why it is ignored (warning) or refused (error), completing "<flag> ...".
  const char* why;
  // Values that keep the flag harmless (comma-separated, e.g. "auto,bfloat16"); a refused flag
  // with one of them (or a switch given as --no-...) is accepted silently. Empty: none.
  const char* harmless = "";
};

// Accepted flags without effect here (GPU memory, parallelism, CUDA graphs, ...).
std::span<const VllmFlag> IgnoredVllmFlags();
// Flags that would change results or need a component modelcar does not have.
std::span<const VllmFlag> RefusedVllmFlags();

// True when `value` is one of `flag.harmless`.
bool IsHarmlessValue(const VllmFlag& flag, std::string_view value);

// vLLM's human_readable_int: "4096", "4k" (4000), "4K" (4096), "1.5m" (1500000), "2M"
// (2*2^20); decimals only with the lower-case (decimal) suffixes k, m, g, t. InvalidArgument
// naming `flag` otherwise.
Result<int64_t> ParseHumanInt(std::string_view value, std::string_view flag);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_VLLM_FLAGS_H_
