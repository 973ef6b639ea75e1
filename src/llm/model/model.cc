#include "llm/model/model.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "base/file.h"
#include "llm/model/quant_load.h"
#include "llm/model/tensor_index.h"

namespace modelcar::llm {
namespace {

std::vector<float> ToF32(const TensorInfo& t, const std::byte* p) {
  size_t n = 1;
  for (int64_t d : t.shape) n *= static_cast<size_t>(d);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (t.dtype == DType::kF32) {
      std::memcpy(&out[i], p + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = t.dtype == DType::kBF16 ? Bf16ToF32(h) : F16ToF32(h);
    }
  }
  return out;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

using Method = QuantConfig::Method;

// config.json with the quantization `options` ask for, and generation_config.json if present.
Status ReadConfigs(const std::string& dir, const LoadOptions& options, Model* m) {
  const std::string config_path = dir + "/config.json";
  ASSIGN_OR_RETURN(std::string config_text, ReadFile(config_path, 16 << 20));
  ASSIGN_OR_RETURN(m->config, ParseModelConfig(config_text, config_path));
  const Method stored = m->config.quant.method;
  if (options.quantization == Method::kInt8) {
    if (stored != Method::kNone) {
      return InvalidArgument("quantization int8 needs a float checkpoint; " + config_path +
                             " is quantized with " + std::string(QuantMethodName(stored)));
    }
    m->config.quant.method = Method::kInt8;
    m->config.quant.bits = 8;
    m->config.quant.group_size = 128;
  } else if (options.quantization != Method::kNone && options.quantization != stored) {
    return InvalidArgument("quantization " + std::string(QuantMethodName(options.quantization)) +
                           " was asked for, "
                           "but " +
                           config_path + " says " + std::string(QuantMethodName(stored)));
  }
  const std::string gen_path = dir + "/generation_config.json";
  if (Exists(gen_path)) {
    ASSIGN_OR_RETURN(std::string gen_text, ReadFile(gen_path, 16 << 20));
    ASSIGN_OR_RETURN(m->generation, ParseGenerationConfig(gen_text, gen_path));
  }
  return Status();
}

// The weight files: model.safetensors, or the shards model.safetensors.index.json names.
struct WeightFiles {
  std::vector<std::string> names;                 // sorted
  std::map<std::string, std::string> weight_map;  // tensor -> file; empty for a single file
  std::string index_path;
};

Result<WeightFiles> FindWeightFiles(const std::string& dir) {
  WeightFiles w;
  w.index_path = dir + "/model.safetensors.index.json";
  if (Exists(dir + "/model.safetensors")) {
    w.names.push_back("model.safetensors");
  } else if (Exists(w.index_path)) {
    ASSIGN_OR_RETURN(std::string index_text, ReadFile(w.index_path, 64 << 20));
    ASSIGN_OR_RETURN(w.weight_map, ParseSafetensorsIndex(index_text, w.index_path));
    for (auto& [t, f] : w.weight_map) {
      if (std::find(w.names.begin(), w.names.end(), f) == w.names.end()) w.names.push_back(f);
    }
    std::sort(w.names.begin(), w.names.end());
  } else {
    return NotFound(dir + ": neither model.safetensors nor model.safetensors.index.json exists");
  }
  return w;
}

// Opens every weight file into m->files and sets m->identity (model.h).
Status OpenWeightFiles(const std::string& dir, const WeightFiles& w, Model* m) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
  for (const std::string& name : w.names) {
    ASSIGN_OR_RETURN(SafetensorsFile f, OpenSafetensors(dir + "/" + name));
    m->files.push_back(std::move(f));
    const SafetensorsFile& sf = m->files.back();
    std::string id = fmt::format("{}\n{}\n", name, sf.map->size());
    EVP_DigestUpdate(md.get(), id.data(), id.size());
    EVP_DigestUpdate(md.get(), sf.map->data(), sf.header.data_start);
  }
  unsigned char digest[32];
  unsigned int dlen = 0;
  EVP_DigestFinal_ex(md.get(), digest, &dlen);
  m->identity = "sha256:";
  for (unsigned i = 0; i < dlen; ++i) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    m->identity += hex;
  }
  return Status();
}

// Every tensor of m.files into `index`, each in the file the shard index names.
Status IndexTensors(const Model& m, const WeightFiles& w, TensorIndex* index) {
  for (size_t i = 0; i < m.files.size(); ++i) {
    for (auto& [tname, info] : m.files[i].header.tensors) {
      auto it = w.weight_map.find(tname);
      if (!w.weight_map.empty() && it != w.weight_map.end() && it->second != w.names[i]) {
        return DataLoss(w.index_path + ": tensor \"" + tname + "\" is listed in " + it->second +
                        " but found in " + w.names[i]);
      }
      RETURN_IF_ERROR(index->Add(i, tname));
    }
  }
  return Status();
}

// Reads the weights the architecture needs into a Model, as views into its files (quantized
// copies where the checkpoint or the options say so), adding up m->weight_bytes.
class WeightReader {
 public:
  WeightReader(Model* m, const TensorIndex& index) : m_(m), index_(index) {}

  // Embeddings, LM head (or the tied embeddings), final norm and every layer.
  Status ReadAll() {
    const ModelConfig& c = m_->config;
    ASSIGN_OR_RETURN(m_->embed, Dense("model.embed_tokens.weight", c.vocab_size, c.hidden_size));
    if (c.tie_word_embeddings) {
      m_->lm_head = m_->embed;
    } else {
      ASSIGN_OR_RETURN(m_->lm_head, Dense("lm_head.weight", c.vocab_size, c.hidden_size));
    }
    ASSIGN_OR_RETURN(m_->final_norm, Vector("model.norm.weight", c.hidden_size));
    m_->layers.resize(c.num_layers);
    for (int l = 0; l < c.num_layers; ++l) RETURN_IF_ERROR(ReadLayer(l, &m_->layers[l]));
    return Status();
  }

 private:
  Status ReadLayer(int l, LayerWeights* L) {
    const ModelConfig& c = m_->config;
    const int64_t hidden = c.hidden_size, inter = c.intermediate_size, hd = c.head_dim;
    const int64_t qdim = c.num_heads * hd, kvdim = c.num_kv_heads * hd;
    const std::string p = fmt::format("model.layers.{}.", l);
    ASSIGN_OR_RETURN(L->input_norm, Vector(p + "input_layernorm.weight", hidden));
    ASSIGN_OR_RETURN(L->post_norm, Vector(p + "post_attention_layernorm.weight", hidden));
    ASSIGN_OR_RETURN(L->q, Linear(p + "self_attn.q_proj", qdim, hidden));
    ASSIGN_OR_RETURN(L->k, Linear(p + "self_attn.k_proj", kvdim, hidden));
    ASSIGN_OR_RETURN(L->v, Linear(p + "self_attn.v_proj", kvdim, hidden));
    ASSIGN_OR_RETURN(L->o, Linear(p + "self_attn.o_proj", hidden, qdim));
    if (c.attention_bias) {
      ASSIGN_OR_RETURN(L->q_bias, Vector(p + "self_attn.q_proj.bias", qdim));
      ASSIGN_OR_RETURN(L->k_bias, Vector(p + "self_attn.k_proj.bias", kvdim));
      ASSIGN_OR_RETURN(L->v_bias, Vector(p + "self_attn.v_proj.bias", kvdim));
    }
    if (c.qk_norm) {
      ASSIGN_OR_RETURN(L->q_norm, Vector(p + "self_attn.q_norm.weight", hd));
      ASSIGN_OR_RETURN(L->k_norm, Vector(p + "self_attn.k_norm.weight", hd));
    }
    ASSIGN_OR_RETURN(L->gate, Linear(p + "mlp.gate_proj", inter, hidden));
    ASSIGN_OR_RETURN(L->up, Linear(p + "mlp.up_proj", inter, hidden));
    ASSIGN_OR_RETURN(L->down, Linear(p + "mlp.down_proj", hidden, inter));
    return Status();
  }

  // A float matrix as stored.
  Result<Matrix> Dense(const std::string& name, int64_t rows, int64_t cols) {
    ASSIGN_OR_RETURN(TensorRef t, index_.Get(name, {rows, cols}));
    m_->weight_bytes += t.info->end - t.info->begin;
    return Matrix{t.info->dtype, rows, cols, t.data()};
  }

  // A layer's linear weight: quantized as the checkpoint stores it (prefix.qweight, ...; every
  // layer linear for GPTQ, all but AWQ's modules_to_not_convert), else float (prefix.weight),
  // optionally made int8.
  Result<Matrix> Linear(const std::string& prefix, int64_t rows, int64_t cols) {
    const QuantConfig& qc = m_->config.quant;
    bool stored_quant = qc.method == Method::kGptq || qc.method == Method::kAwq;
    for (const std::string& skip : qc.modules_to_not_convert) {
      if (!skip.empty() && prefix.find(skip) != std::string::npos) stored_quant = false;
    }
    if (stored_quant) {
      if (!index_.Has(prefix + ".qweight")) {
        return NotFound(
            fmt::format("tensor \"{}.qweight\" is missing from the model (config.json's "
                        "quantization_config says {} {}-bit)",
                        prefix, QuantMethodName(qc.method), qc.bits));
      }
      auto q = qc.method == Method::kGptq ? LoadGptq(index_, prefix, qc, rows, cols)
                                          : LoadAwq(index_, prefix, qc, rows, cols);
      if (!q.ok()) return q.status();
      m_->weight_bytes += (*q)->bytes();
      m_->quantized.push_back(std::move(*q));
      return Matrix{DType::kOther, rows, cols, nullptr, m_->quantized.back().get()};
    }
    ASSIGN_OR_RETURN(Matrix w, Dense(prefix + ".weight", rows, cols));
    if (qc.method == Method::kInt8) {
      if (auto q = QuantizeInt8(w)) {
        m_->weight_bytes += q->bytes() - (w.rows * w.cols * DTypeSize(w.dtype));
        m_->quantized.push_back(std::move(q));
        return Matrix{DType::kOther, rows, cols, nullptr, m_->quantized.back().get()};
      }
    }
    return w;
  }

  // A vector (norm weight, bias) as an f32 copy.
  Result<std::vector<float>> Vector(const std::string& name, int64_t n) {
    ASSIGN_OR_RETURN(TensorRef t, index_.Get(name, {n}));
    m_->weight_bytes += t.info->end - t.info->begin;
    return ToF32(*t.info, t.data());
  }

  Model* m_;
  const TensorIndex& index_;
};

}  // namespace

std::vector<int> Model::EosTokenIds() const {
  std::vector<int> out;
  const auto& src =
      generation.eos_token_ids.empty() ? config.eos_token_ids : generation.eos_token_ids;
  for (int id : src) {
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

Result<std::shared_ptr<const Model>> LoadModel(const std::string& dir, const LoadOptions& options) {
  auto m = std::make_shared<Model>();
  m->dir = dir;
  RETURN_IF_ERROR(ReadConfigs(dir, options, m.get()));
  ASSIGN_OR_RETURN(WeightFiles files, FindWeightFiles(dir));
  RETURN_IF_ERROR(OpenWeightFiles(dir, files, m.get()));
  TensorIndex index(&m->files);
  RETURN_IF_ERROR(IndexTensors(*m, files, &index));
  RETURN_IF_ERROR(WeightReader(m.get(), index).ReadAll());
  // Every forward pass reads all the weights: map them now, not in the first request.
  for (const SafetensorsFile& f : m->files) f.map->Populate();
  return std::shared_ptr<const Model>(std::move(m));
}

}  // namespace modelcar::llm
