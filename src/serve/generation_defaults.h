// The server's default sampling parameters, as vLLM derives them from the model's
// generation_config.json (vLLM's ModelConfig.get_diff_sampling_param):
//
//   --generation-config auto (default)  the model directory's generation_config.json
//   --generation-config vllm            none: vLLM's neutral defaults (temperature 1, top_p 1, ...)
//   --generation-config DIR             DIR/generation_config.json
//   --override-generation-config JSON   merged over the above (in every mode)
//
// Like Hugging Face's GenerationConfig.to_diff_dict(), file values equal to transformers'
// defaults (temperature 1.0, top_p 1.0, top_k 50, repetition_penalty 1.0) do not count as
// defaults; override values always count. Only repetition_penalty, temperature, top_k, top_p,
// min_p and max_new_tokens (as max_tokens) are used. A request field that is present always
// wins over these defaults; max_tokens is also capped by a default max_tokens (as vLLM does).
//
// Pure functions; thread-safe.
#ifndef MODELCAR_SERVE_GENERATION_DEFAULTS_H_
#define MODELCAR_SERVE_GENERATION_DEFAULTS_H_

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::serve {

struct SamplingDefaults {
  std::optional<double> repetition_penalty;
  std::optional<double> temperature;
  std::optional<int> top_k;
  std::optional<double> top_p;
  std::optional<double> min_p;
  std::optional<int> max_tokens;  // generation_config's max_new_tokens

  bool empty() const {
    return !repetition_penalty && !temperature && !top_k && !top_p && !min_p && !max_tokens;
  }
  // vLLM's start-up log form, a Python dict: {'repetition_penalty': 1.05, 'temperature': 0.7}.
  std::string ToPythonDict() const;
};

// `file_json`: the text of the generation_config.json that `mode` selects (empty: no file);
// `override_json`: --override-generation-config (empty: none). InvalidArgument naming the file or
// flag when a JSON text does not parse, is not an object, or a used field has the wrong type.
Result<SamplingDefaults> MakeSamplingDefaults(std::string_view mode, std::string_view file_json,
                                              std::string_view override_json);

// The generation_config.json path `mode` selects for a model in `model_dir`: "" for "vllm".
std::string GenerationConfigPath(std::string_view mode, std::string_view model_dir);

// The source named in vLLM's log line: "model" for auto, else the mode ("vllm" or the DIR).
std::string DefaultsSource(std::string_view mode);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_GENERATION_DEFAULTS_H_
