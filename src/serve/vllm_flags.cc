#include "serve/vllm_flags.h"

#include <cmath>
#include <cstdlib>

namespace modelcar::serve {
namespace {

constexpr char kOneEngine[] = "has no effect: one CPU engine serves in this process";
constexpr char kNoGpu[] = "has no effect: there is no GPU (the KV budget is --kv-cache-memory)";
constexpr char kOffline[] = "has no effect: models are local directories or oci:// images";
constexpr char kAlways[] = "has no effect: modelcar always behaves this way";

const VllmFlag kIgnored[] = {
    {"--gpu-memory-utilization", nullptr, true, kNoGpu},
    {"--tensor-parallel-size", "-tp", true, kOneEngine},
    {"--pipeline-parallel-size", "-pp", true, kOneEngine},
    {"--data-parallel-size", "-dp", true, kOneEngine},
    {"--data-parallel-size-local", nullptr, true, kOneEngine},
    {"--data-parallel-rank", nullptr, true, kOneEngine},
    {"--data-parallel-address", nullptr, true, kOneEngine},
    {"--data-parallel-rpc-port", nullptr, true, kOneEngine},
    {"--data-parallel-backend", nullptr, true, kOneEngine},
    {"--distributed-executor-backend", nullptr, true, kOneEngine},
    {"--api-server-count", nullptr, true, kOneEngine},
    {"--worker-cls", nullptr, true, kOneEngine},
    {"--worker-extension-cls", nullptr, true, kOneEngine},
    {"--max-parallel-loading-workers", nullptr, true, kOneEngine},
    {"--swap-space", nullptr, true, kNoGpu},
    {"--cpu-offload-gb", nullptr, true, kNoGpu},
    {"--num-gpu-blocks-override", nullptr, true, kNoGpu},
    {"--block-size", nullptr, true, "has no effect: the KV block size is the engine's"},
    {"--max-seq-len-to-capture", nullptr, true, "has no effect: there are no CUDA graphs"},
    {"--cuda-graph-sizes", nullptr, true, "has no effect: there are no CUDA graphs"},
    {"--compilation-config", "-O", true, "has no effect: there is no torch.compile"},
    {"--device", nullptr, true, "has no effect: the engine runs on the CPU"},
    {"--dtype", nullptr, true,
     "has no effect: weights are used in their stored dtype (activations: --precision)"},
    {"--load-format", nullptr, true, "has no effect: safetensors are memory-mapped"},
    {"--model-impl", nullptr, true, "has no effect: modelcar has one implementation"},
    {"--config-format", nullptr, true, "has no effect: config.json is read"},
    {"--download-dir", nullptr, true, kOffline},
    {"--revision", nullptr, true, kOffline},
    {"--code-revision", nullptr, true, kOffline},
    {"--tokenizer-revision", nullptr, true, kOffline},
    {"--hf-token", nullptr, true, kOffline},
    {"--max-num-partial-prefills", nullptr, true,
     "has no effect: prefill chunks are scheduled by --max-num-batched-tokens"},
    {"--max-long-partial-prefills", nullptr, true,
     "has no effect: prefill chunks are scheduled by --max-num-batched-tokens"},
    {"--long-prefill-token-threshold", nullptr, true,
     "has no effect: prefill chunks are scheduled by --max-num-batched-tokens"},
    {"--prefix-caching-hash-algo", nullptr, true,
     "has no effect: cached blocks are matched by their token ids (the hash only finds "
     "candidates)"},
    {"--speculative-config", nullptr, true,
     "has no effect: there is no speculative decoding (outputs follow the same distribution)"},
    {"--structured-outputs-config", nullptr, true,
     "has no effect: structured outputs use modelcar's own grammar engine"},
    {"--guided-decoding-backend", nullptr, true,
     "has no effect: structured outputs use modelcar's own grammar engine"},
    {"--limit-mm-per-prompt", nullptr, true, "has no effect: the served model is text-only"},
    {"--mm-processor-kwargs", nullptr, true, "has no effect: the served model is text-only"},
    {"--allowed-local-media-path", nullptr, true, "has no effect: the served model is text-only"},
    {"--allowed-media-domains", nullptr, true, "has no effect: the served model is text-only"},
    {"--log-config-file", nullptr, true, "has no effect: serve logs lines on stderr"},
    {"--enforce-eager", nullptr, false, "has no effect: there are no CUDA graphs"},
    {"--trust-remote-code", nullptr, false,
     "has no effect: no model code is ever run (the architectures are built in)"},
    {"--enable-expert-parallel", nullptr, false, kOneEngine},
    {"--disable-custom-all-reduce", nullptr, false, kOneEngine},
    {"--disable-frontend-multiprocessing", nullptr, false, kOneEngine},
    {"--async-scheduling", nullptr, false, kOneEngine},
    {"--enable-chunked-prefill", nullptr, false, kAlways},
    {"--enable-ssl-refresh", nullptr, false, kAlways},
    {"--disable-log-stats", nullptr, false, "has no effect: serve logs no periodic stats"},
    {"--disable-sliding-window", nullptr, false,
     "has no effect: models with an active sliding window are refused at load"},
    {"--disable-cascade-attn", nullptr, false, "has no effect: there is no cascade attention"},
    {"--enable-sleep-mode", nullptr, false, "has no effect: there is no GPU memory to release"},
    {"--disable-fastapi-docs", nullptr, false, "has no effect: there are no API docs routes"},
    {"--enable-offline-docs", nullptr, false, "has no effect: there are no API docs routes"},
    {"--enable-log-outputs", nullptr, false, "has no effect: outputs are never logged"},
    {"--calculate-kv-scales", nullptr, false, "has no effect: the KV cache is not quantized"},
};

const VllmFlag kRefused[] = {
    {"--kv-cache-dtype", nullptr, true, "is not supported: the KV cache is not quantized", "auto"},
    {"--rope-scaling", nullptr, true, "is not supported: rope_scaling models are refused"},
    {"--rope-theta", nullptr, true, "is not supported: the model's rope_theta is used"},
    {"--hf-overrides", nullptr, true, "is not supported: the model's config.json is used as is"},
    {"--tokenizer-mode", nullptr, true,
     "is not supported: only Hugging Face tokenizer.json tokenizers are served", "auto,hf,slow"},
    {"--enable-lora", nullptr, false, "is not supported: LoRA adapters cannot be served"},
    {"--lora-modules", nullptr, true, "is not supported: LoRA adapters cannot be served"},
    {"--max-loras", nullptr, true, "is not supported: LoRA adapters cannot be served"},
    {"--max-lora-rank", nullptr, true, "is not supported: LoRA adapters cannot be served"},
    {"--skip-tokenizer-init", nullptr, false, "is not supported: serve needs the tokenizer"},
    {"--enable-prompt-embeds", nullptr, false, "is not supported: prompts are tokens or text"},
    {"--logits-processors", nullptr, true, "is not supported: no Python code is loaded"},
    {"--middleware", nullptr, true, "is not supported: no Python code is loaded"},
    {"--tool-parser-plugin", nullptr, true, "is not supported: no Python code is loaded"},
    {"--tool-server", nullptr, true, "is not supported: there is no tool server client"},
    {"--kv-transfer-config", nullptr, true, "is not supported: there is no KV transfer"},
    {"--kv-events-config", nullptr, true, "is not supported: there are no KV events"},
    {"--otlp-traces-endpoint", nullptr, true, "is not supported: there is no tracing"},
    {"--uds", nullptr, true, "is not supported: serve listens on TCP (--host, --port)"},
    {"--headless", nullptr, false, "is not supported: serve always runs its API server"},
    {"--ssl-ca-certs", nullptr, true, "is not supported: client certificates are not verified"},
    {"--ssl-cert-reqs", nullptr, true, "is not supported: client certificates are not verified",
     "0"},
    {"--ssl-ciphers", nullptr, true, "is not supported: the TLS library's defaults are used"},
    {"--scheduling-policy", nullptr, true, "is not supported: requests are served first come",
     "fcfs"},
    {"--task", nullptr, true, "is not supported: only text generation is served", "auto,generate"},
    {"--runner", nullptr, true, "is not supported: only text generation is served",
     "auto,generate"},
    {"--convert", nullptr, true, "is not supported: only text generation is served", "auto,none"},
    {"--chat-template-content-format", nullptr, true,
     "is not supported: message content is passed to the template as a string", "auto,string"},
    {"--enable-tokenizer-info-endpoint", nullptr, false,
     "is not supported: there is no /tokenizer_info route"},
    {"--config", nullptr, true,
     "is not supported: give the flags on the command line (or in the container's args)"},
};

}  // namespace

std::span<const VllmFlag> IgnoredVllmFlags() { return kIgnored; }
std::span<const VllmFlag> RefusedVllmFlags() { return kRefused; }

bool IsHarmlessValue(const VllmFlag& flag, std::string_view value) {
  std::string_view list = flag.harmless;
  while (!list.empty()) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == value) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

Result<int64_t> ParseHumanInt(std::string_view value, std::string_view flag) {
  auto bad = [&](std::string why) {
    return InvalidArgument(std::string(flag) + ": '" + std::string(value) + "' " + why);
  };
  std::string v(value);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  if (v.empty()) return bad("is not an integer");
  const char last = v.back();
  double mult = 1;
  bool decimal_suffix = false;
  switch (last) {
    case 'k':
      mult = 1e3;
      decimal_suffix = true;
      break;
    case 'm':
      mult = 1e6;
      decimal_suffix = true;
      break;
    case 'g':
      mult = 1e9;
      decimal_suffix = true;
      break;
    case 't':
      mult = 1e12;
      decimal_suffix = true;
      break;
    case 'K':
      mult = 1024.0;
      break;
    case 'M':
      mult = 1024.0 * 1024;
      break;
    case 'G':
      mult = 1024.0 * 1024 * 1024;
      break;
    case 'T':
      mult = 1024.0 * 1024 * 1024 * 1024;
      break;
    default:
      break;
  }
  std::string number = mult == 1 ? v : v.substr(0, v.size() - 1);
  bool negative = !number.empty() && number[0] == '-';
  if (negative && mult != 1) return bad("is not an integer");
  const std::string digits = negative ? number.substr(1) : number;
  size_t dots = 0;
  for (char c : digits) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return bad("is not an integer (examples: 4096, 4k, 4K, 1.5m)");
    }
  }
  if (digits.empty() || digits == "." || dots > 1) return bad("is not an integer");
  if (dots && !decimal_suffix) {
    return bad("has a decimal point: decimals are only allowed with k, m, g or t");
  }
  double x = std::strtod(digits.c_str(), nullptr) * mult;
  if (!std::isfinite(x) || x > 9.2e18) return bad("is too large");
  int64_t out = static_cast<int64_t>(x);
  return negative ? -out : out;
}

}  // namespace modelcar::serve
