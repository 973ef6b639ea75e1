#include "serve/generation_defaults.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace modelcar::serve {
namespace {

using json = nlohmann::json;

// Python's repr of a float: the shortest form that reads back the same, with ".0" when whole.
std::string PyFloat(double v) {
  char buf[32];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

Result<json> ParseObject(std::string_view text, const std::string& what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument(what + " is not valid JSON");
  if (!j.is_object()) return InvalidArgument(what + " must be a JSON object");
  return j;
}

// The fields vLLM takes from a generation config, checked and converted. `hf_defaults`: drop
// values equal to transformers' GenerationConfig defaults (its to_diff_dict()).
Status Apply(const json& j, const std::string& what, bool hf_defaults, SamplingDefaults* d) {
  auto number = [&](const char* key, double hf_default, std::optional<double>* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status();
    if (!it->is_number()) return InvalidArgument(what + ": " + key + " must be a number");
    double v = it->get<double>();
    if (!std::isfinite(v)) return InvalidArgument(what + ": " + key + " must be finite");
    if (hf_defaults && v == hf_default) return Status();
    *out = v;
    return Status();
  };
  auto integer = [&](const char* key, std::optional<int64_t> hf_default,
                     std::optional<int>* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status();
    if (!it->is_number() || std::trunc(it->get<double>()) != it->get<double>() ||
        std::fabs(it->get<double>()) > 1e9) {
      return InvalidArgument(what + ": " + key + " must be an integer");
    }
    int64_t v = static_cast<int64_t>(it->get<double>());
    if (hf_defaults && hf_default && v == *hf_default) return Status();
    *out = static_cast<int>(v);
    return Status();
  };
  RETURN_IF_ERROR(number("repetition_penalty", 1.0, &d->repetition_penalty));
  RETURN_IF_ERROR(number("temperature", 1.0, &d->temperature));
  RETURN_IF_ERROR(integer("top_k", 50, &d->top_k));
  RETURN_IF_ERROR(number("top_p", 1.0, &d->top_p));
  RETURN_IF_ERROR(number("min_p", std::nan(""), &d->min_p));
  RETURN_IF_ERROR(integer("max_new_tokens", std::nullopt, &d->max_tokens));
  if (d->max_tokens && *d->max_tokens < 1) {
    return InvalidArgument(what + ": max_new_tokens must be at least 1");
  }
  return Status();
}

}  // namespace

std::string SamplingDefaults::ToPythonDict() const {
  std::string s = "{";
  auto add = [&](const char* key, const std::string& v) {
    if (s.size() > 1) s += ", ";
    s += "'" + std::string(key) + "': " + v;
  };
  if (repetition_penalty) add("repetition_penalty", PyFloat(*repetition_penalty));
  if (temperature) add("temperature", PyFloat(*temperature));
  if (top_k) add("top_k", std::to_string(*top_k));
  if (top_p) add("top_p", PyFloat(*top_p));
  if (min_p) add("min_p", PyFloat(*min_p));
  if (max_tokens) add("max_tokens", std::to_string(*max_tokens));
  return s + "}";
}

Result<SamplingDefaults> MakeSamplingDefaults(std::string_view mode, std::string_view file_json,
                                              std::string_view override_json) {
  SamplingDefaults d;
  if (mode != "vllm" && !file_json.empty()) {
    std::string what = "generation config (" + GenerationConfigPath(mode, "<model>") + ")";
    ASSIGN_OR_RETURN(json j, ParseObject(file_json, what));
    RETURN_IF_ERROR(Apply(j, what, /*hf_defaults=*/true, &d));
  }
  if (!override_json.empty()) {
    const std::string what = "--override-generation-config";
    ASSIGN_OR_RETURN(json j, ParseObject(override_json, what));
    RETURN_IF_ERROR(Apply(j, what, /*hf_defaults=*/false, &d));
  }
  return d;
}

std::string GenerationConfigPath(std::string_view mode, std::string_view model_dir) {
  if (mode == "vllm") return "";
  std::string dir(mode == "auto" ? model_dir : mode);
  return dir + "/generation_config.json";
}

std::string DefaultsSource(std::string_view mode) {
  return mode == "auto" ? "model" : std::string(mode);
}

}  // namespace modelcar::serve
