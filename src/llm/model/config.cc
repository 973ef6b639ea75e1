#include "llm/model/config.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "base/json.h"
#include "llm/model/quant_config.h"

namespace modelcar::llm {
namespace {

using nlohmann::json;

Status Field(std::string_view what, std::string_view field, std::string_view msg) {
  return InvalidArgument(std::string(what) + ": field \"" + std::string(field) + "\" " +
                         std::string(msg));
}

Status GetInt(const json& j, const char* key, std::string_view what, int* out, bool required,
              int min_value = 1) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return required ? Field(what, key, "is missing") : Status();
  }
  if (!it->is_number_integer()) return Field(what, key, "is not an integer");
  int64_t v = it->get<int64_t>();
  if (v < min_value || v > (int64_t{1} << 30)) return Field(what, key, "is out of range");
  *out = static_cast<int>(v);
  return Status();
}

// A number that T can hold (an integral T takes a fractional value truncated toward zero, as a
// cast does); a value outside T's range is an error, never a conversion with undefined behavior.
template <typename T>
Status GetNum(const json& j, const char* key, std::string_view what, std::optional<T>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status();
  if (!it->is_number()) return Field(what, key, "is not a number");
  double v = it->get<double>();
  double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  double hi = static_cast<double>(std::numeric_limits<T>::max());
  // For an integral T, lowest() - 1 and max() + 1 are exact as doubles (T is at most 32 bits here).
  bool in_range = std::is_integral_v<T> ? (v > lo - 1 && v < hi + 1) : (v >= lo && v <= hi);
  if (!std::isfinite(v) || !in_range) return Field(what, key, "is out of range");
  *out = it->is_number_float() ? static_cast<T>(v) : it->get<T>();
  return Status();
}

Status GetIds(const json& j, const char* key, std::string_view what, std::vector<int>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status();
  auto one = [&](const json& v) -> Status {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > (1 << 30)) {
      return Field(what, key, "holds an invalid token id");
    }
    out->push_back(v.get<int>());
    return Status();
  };
  if (it->is_array()) {
    for (auto& v : *it) RETURN_IF_ERROR(one(v));
    return Status();
  }
  return one(*it);
}

Result<json> Parse(std::string_view text, std::string_view what) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) return InvalidArgument(std::string(what) + ": not a JSON object");
    return j;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": not valid JSON: " + PrintableAscii(e.what()));
  }
}

// The defaults of transformers' config classes (the __init__ parameters of Qwen2Config,
// Qwen3Config, LlamaConfig, MistralConfig), used for keys config.json lacks.
struct ArchSpec {
  Arch arch;
  const char* model_type;
  const char* architecture;  // the causal LM class
  int vocab_size, hidden_size, intermediate_size, num_layers, num_heads;
  int num_kv_heads;  // the parameter's default; 0: None, i.e. num_attention_heads
  int head_dim;      // 0: hidden_size / num_attention_heads
  int max_position_embeddings;
  int bos, eos;        // -1: None
  int sliding_window;  // Mistral: used unless null (4096); Qwen: used only with use_sliding_window
  int max_window_layers;
};
constexpr ArchSpec kArchs[] = {
    {Arch::kQwen2, "qwen2", "Qwen2ForCausalLM", 151936, 4096, 22016, 32, 32, 32, 0, 32768, -1, -1,
     4096, 28},
    {Arch::kQwen3, "qwen3", "Qwen3ForCausalLM", 151936, 4096, 22016, 32, 32, 32, 128, 32768, -1, -1,
     4096, 28},
    {Arch::kLlama, "llama", "LlamaForCausalLM", 32000, 4096, 11008, 32, 32, 0, 0, 2048, 1, 2, 0, 0},
    {Arch::kMistral, "mistral", "MistralForCausalLM", 32000, 4096, 14336, 32, 32, 8, 0, 131072, 1,
     2, 4096, 0},
};

Status Unsupported(std::string_view what, const std::string& msg) {
  return Unimplemented(std::string(what) + ": " + msg);
}

// The model class: model_type picks it (as AutoModelForCausalLM does), architectures[0] must
// agree; without model_type, architectures[0] alone.
Result<const ArchSpec*> FindArch(const json& j, std::string_view what, ModelConfig* c) {
  if (auto a = j.find("architectures"); a != j.end() && !a->is_null()) {
    if (!a->is_array() || a->empty() || !(*a)[0].is_string()) {
      return Field(what, "architectures", "is not a list of class names");
    }
    c->architecture = (*a)[0].get<std::string>();
  }
  if (auto m = j.find("model_type"); m != j.end() && !m->is_null()) {
    if (!m->is_string()) return Field(what, "model_type", "is not a string");
    c->model_type = m->get<std::string>();
  }
  std::string names;
  for (const ArchSpec& s : kArchs) {
    names += std::string(names.empty() ? "" : ", ") + s.architecture;
    const bool type_ok = c->model_type.empty() || c->model_type == s.model_type;
    const bool arch_ok = c->architecture.empty() || c->architecture == s.architecture;
    if (type_ok && arch_ok && !(c->model_type.empty() && c->architecture.empty())) return &s;
  }
  return Unsupported(what, "architecture \"" + c->architecture + "\" (model_type \"" +
                               c->model_type + "\") is not supported; supported: " + names);
}

Status GetDouble(const json& j, const char* key, std::string_view what, double* out) {
  std::optional<double> d;
  RETURN_IF_ERROR(GetNum(j, key, what, &d));
  if (d) *out = *d;
  return Status();
}

Status GetBool(const json& j, const char* key, std::string_view what, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status();
  if (!it->is_boolean()) return Field(what, key, "is not a boolean");
  *out = it->get<bool>();
  return Status();
}

// rope_scaling, or transformers 5's rope_parameters (which also holds rope_theta).
Status ParseRope(const json& j, std::string_view what, ModelConfig* c) {
  const char* key = j.contains("rope_parameters") ? "rope_parameters" : "rope_scaling";
  auto r = j.find(key);
  if (r == j.end() || r->is_null()) return Status();
  if (!r->is_object()) return Field(what, key, "is not an object");
  if (std::string_view(key) == "rope_parameters") {
    RETURN_IF_ERROR(GetDouble(*r, "rope_theta", what, &c->rope_theta));
  }
  std::string type = "default";
  for (const char* k : {"rope_type", "type"}) {  // transformers reads "type" as a legacy name
    if (auto t = r->find(k); t != r->end() && t->is_string()) {
      type = t->get<std::string>();
      break;
    }
  }
  RopeScaling& s = c->rope_scaling;
  auto need = [&](const char* k, double* out) -> Status {
    auto v = r->find(k);
    if (v == r->end() || !v->is_number()) {
      return Field(what, std::string(key) + "." + k, "is missing or not a number");
    }
    *out = v->get<double>();
    return Status();
  };
  if (type == "default") return Status();
  if (type == "linear") {
    s.type = RopeScaling::Type::kLinear;
    RETURN_IF_ERROR(need("factor", &s.factor));
    if (!(s.factor > 0)) return Field(what, std::string(key) + ".factor", "must be positive");
    return Status();
  }
  if (type == "llama3") {
    s.type = RopeScaling::Type::kLlama3;
    double orig = 0;
    RETURN_IF_ERROR(need("factor", &s.factor));
    RETURN_IF_ERROR(need("low_freq_factor", &s.low_freq_factor));
    RETURN_IF_ERROR(need("high_freq_factor", &s.high_freq_factor));
    RETURN_IF_ERROR(need("original_max_position_embeddings", &orig));
    if (!(s.factor > 0) || !(s.low_freq_factor > 0) || !(orig >= 1 && orig <= (1 << 30)) ||
        !(s.high_freq_factor > s.low_freq_factor)) {
      return Field(what, key,
                   "needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
                   "original_max_position_embeddings >= 1");
    }
    s.original_max_position_embeddings = static_cast<int>(orig);
    return Status();
  }
  return Unsupported(what, "\"" + std::string(key) + "\" type \"" + type +
                               "\" is not supported (supported: default, linear, llama3)");
}

// Sliding-window attention in use (any layer) is refused: the engine attends to every position.
Status CheckSlidingWindow(const json& j, std::string_view what, const ArchSpec& spec,
                          const ModelConfig& c) {
  int window = spec.sliding_window;
  if (auto w = j.find("sliding_window"); w != j.end()) {
    if (w->is_null()) {
      window = 0;
    } else {
      RETURN_IF_ERROR(GetInt(j, "sliding_window", what, &window, true));
    }
  }
  if (spec.arch == Arch::kMistral) {
    // MistralConfig's default is 4096; a window at least the context changes nothing.
    if (window > 0 && window < c.max_position_embeddings) {
      return Unsupported(what,
                         fmt::format("\"sliding_window\": {} (sliding-window attention) is not "
                                     "supported; only null or >= max_position_embeddings ({})",
                                     window, c.max_position_embeddings));
    }
    return Status();
  }
  if (spec.arch != Arch::kQwen2 && spec.arch != Arch::kQwen3) return Status();
  bool use = false;
  RETURN_IF_ERROR(GetBool(j, "use_sliding_window", what, &use));
  if (!use || window == 0) return Status();
  int max_window_layers = spec.max_window_layers;
  RETURN_IF_ERROR(GetInt(j, "max_window_layers", what, &max_window_layers, false, 0));
  bool sliding = max_window_layers < c.num_layers;
  if (auto t = j.find("layer_types"); t != j.end() && t->is_array()) {
    sliding = false;
    for (auto& v : *t) sliding |= !(v.is_string() && v.get<std::string>() == "full_attention");
  }
  if (sliding) {
    return Unsupported(what,
                       "\"use_sliding_window\": true with sliding-window layers is not "
                       "supported");
  }
  return Status();
}

// Sizes, heads and head_dim: the architecture's defaults, then config.json's values.
Status ParseShape(const json& j, std::string_view what, const ArchSpec& spec, ModelConfig* c) {
  c->vocab_size = spec.vocab_size;
  c->hidden_size = spec.hidden_size;
  c->intermediate_size = spec.intermediate_size;
  c->num_layers = spec.num_layers;
  c->num_heads = spec.num_heads;
  c->max_position_embeddings = spec.max_position_embeddings;
  RETURN_IF_ERROR(GetInt(j, "vocab_size", what, &c->vocab_size, false));
  RETURN_IF_ERROR(GetInt(j, "hidden_size", what, &c->hidden_size, false));
  RETURN_IF_ERROR(GetInt(j, "intermediate_size", what, &c->intermediate_size, false));
  RETURN_IF_ERROR(GetInt(j, "num_hidden_layers", what, &c->num_layers, false));
  RETURN_IF_ERROR(GetInt(j, "num_attention_heads", what, &c->num_heads, false));
  RETURN_IF_ERROR(GetInt(j, "max_position_embeddings", what, &c->max_position_embeddings, false));
  // A missing key takes the class default; an explicit null means num_attention_heads.
  c->num_kv_heads = spec.num_kv_heads > 0 ? spec.num_kv_heads : c->num_heads;
  if (auto kv = j.find("num_key_value_heads"); kv != j.end() && kv->is_null()) {
    c->num_kv_heads = c->num_heads;
  }
  RETURN_IF_ERROR(GetInt(j, "num_key_value_heads", what, &c->num_kv_heads, false));
  c->head_dim = spec.head_dim;
  RETURN_IF_ERROR(GetInt(j, "head_dim", what, &c->head_dim, false));
  if (c->head_dim == 0) {
    if (c->hidden_size % c->num_heads != 0) {
      return Field(what, "hidden_size", "is not a multiple of num_attention_heads");
    }
    c->head_dim = c->hidden_size / c->num_heads;
  }
  if (c->head_dim % 2 != 0) return Field(what, "head_dim", "must be even for RoPE");
  if (c->num_heads % c->num_kv_heads != 0) {
    return Field(what, "num_key_value_heads", "does not divide num_attention_heads");
  }
  return Status();
}

// rope_theta, rope_scaling and rms_norm_eps.
Status ParseRopeAndNorm(const json& j, std::string_view what, ModelConfig* c) {
  RETURN_IF_ERROR(GetDouble(j, "rope_theta", what, &c->rope_theta));
  RETURN_IF_ERROR(ParseRope(j, what, c));
  if (!(c->rope_theta > 0)) return Field(what, "rope_theta", "must be positive");
  if (auto p = j.find("partial_rotary_factor");
      p != j.end() && !p->is_null() && !(p->is_number() && p->get<double>() == 1.0)) {
    return Unsupported(what, "\"partial_rotary_factor\" other than 1 is not supported");
  }
  RETURN_IF_ERROR(GetDouble(j, "rms_norm_eps", what, &c->rms_norm_eps));
  if (!(c->rms_norm_eps > 0 && c->rms_norm_eps < 1)) {
    return Field(what, "rms_norm_eps", "out of range");
  }
  return Status();
}

// Tied embeddings, biases, q/k norms, quantization, sliding window and the activation.
Status ParseLayerOptions(const json& j, std::string_view what, const ArchSpec& spec,
                         ModelConfig* c) {
  RETURN_IF_ERROR(GetBool(j, "tie_word_embeddings", what, &c->tie_word_embeddings));
  // Qwen2 always has q/k/v biases (its attention ignores "attention_bias"); Llama and Qwen3
  // read "attention_bias" (biases on q/k/v and o); Mistral has none.
  c->attention_bias = c->arch == Arch::kQwen2;
  if (c->arch == Arch::kLlama || c->arch == Arch::kQwen3) {
    bool bias = false;
    RETURN_IF_ERROR(GetBool(j, "attention_bias", what, &bias));
    if (bias) return Unsupported(what, "\"attention_bias\": true is not supported");
  }
  if (c->arch == Arch::kLlama) {
    bool bias = false;
    RETURN_IF_ERROR(GetBool(j, "mlp_bias", what, &bias));
    if (bias) return Unsupported(what, "\"mlp_bias\": true is not supported");
  }
  c->qk_norm = c->arch == Arch::kQwen3;
  if (auto q = j.find("quantization_config"); q != j.end() && !q->is_null()) {
    RETURN_IF_ERROR(ParseQuantConfig(*q, what, &c->quant));
  }
  RETURN_IF_ERROR(CheckSlidingWindow(j, what, spec, *c));
  if (auto act = j.find("hidden_act"); act != j.end() && !act->is_null()) {
    const std::string a = act->is_string() ? act->get<std::string>() : act->dump();
    if (a != "silu" && a != "swish") {  // transformers' ACT2FN maps both to SiLU
      return Unsupported(what, "\"hidden_act\" \"" + a + "\" is not supported (only silu)");
    }
  }
  return Status();
}

// The checkpoint's dtype ("torch_dtype", or "dtype" as transformers 4.56+ writes it).
Status ParseDtype(const json& j, std::string_view what, ModelConfig* c) {
  for (const char* key : {"torch_dtype", "dtype"}) {  // transformers 4.56+ writes "dtype"
    auto t = j.find(key);
    if (t == j.end() || t->is_null()) continue;
    const std::string s = t->is_string() ? t->get<std::string>() : t->dump();
    if (s == "bfloat16") {
      c->dtype = DType::kBF16;
    } else if (s == "float16") {
      c->dtype = DType::kF16;
    } else if (s == "float32") {
      c->dtype = DType::kF32;
    } else {
      return Field(what, key, "\"" + s + "\" is not supported");
    }
    break;
  }
  return Status();
}

// bos_token_id and eos_token_id (one id or a list): config.json's, else the architecture's.
Status ParseSpecialTokens(const json& j, std::string_view what, const ArchSpec& spec,
                          ModelConfig* c) {
  if (spec.bos >= 0) c->bos_token_id = spec.bos;
  if (auto b = j.find("bos_token_id"); b != j.end()) {
    c->bos_token_id.reset();
    int bos = 0;
    if (!b->is_null()) {
      RETURN_IF_ERROR(GetInt(j, "bos_token_id", what, &bos, true, 0));
      c->bos_token_id = bos;
    }
  }
  if (!j.contains("eos_token_id") && spec.eos >= 0) c->eos_token_ids = {spec.eos};
  RETURN_IF_ERROR(GetIds(j, "eos_token_id", what, &c->eos_token_ids));
  return Status();
}

}  // namespace

Result<ModelConfig> ParseModelConfig(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(json j, Parse(text, what));
  ModelConfig c;
  try {
    ASSIGN_OR_RETURN(const ArchSpec* spec, FindArch(j, what, &c));
    c.arch = spec->arch;
    if (c.architecture.empty()) c.architecture = spec->architecture;
    if (c.model_type.empty()) c.model_type = spec->model_type;
    RETURN_IF_ERROR(ParseShape(j, what, *spec, &c));
    RETURN_IF_ERROR(ParseRopeAndNorm(j, what, &c));
    RETURN_IF_ERROR(ParseLayerOptions(j, what, *spec, &c));
    RETURN_IF_ERROR(ParseDtype(j, what, &c));
    RETURN_IF_ERROR(ParseSpecialTokens(j, what, *spec, &c));
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": " + PrintableAscii(e.what()));
  }
  return c;
}

Result<GenerationConfig> ParseGenerationConfig(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(json j, Parse(text, what));
  GenerationConfig g;
  try {
    if (auto s = j.find("do_sample"); s != j.end() && s->is_boolean()) g.do_sample = s->get<bool>();
    RETURN_IF_ERROR(GetNum(j, "temperature", what, &g.temperature));
    RETURN_IF_ERROR(GetNum(j, "top_k", what, &g.top_k));
    RETURN_IF_ERROR(GetNum(j, "top_p", what, &g.top_p));
    RETURN_IF_ERROR(GetNum(j, "min_p", what, &g.min_p));
    RETURN_IF_ERROR(GetNum(j, "repetition_penalty", what, &g.repetition_penalty));
    int bos = 0;
    if (j.contains("bos_token_id") && !j["bos_token_id"].is_null()) {
      RETURN_IF_ERROR(GetInt(j, "bos_token_id", what, &bos, true, 0));
      g.bos_token_id = bos;
    }
    RETURN_IF_ERROR(GetIds(j, "eos_token_id", what, &g.eos_token_ids));
  } catch (const json::exception& e) {
    return InvalidArgument(std::string(what) + ": " + PrintableAscii(e.what()));
  }
  return g;
}

}  // namespace modelcar::llm
