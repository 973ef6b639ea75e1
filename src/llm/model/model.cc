#include "llm/model/model.h"

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
  const std::string config_path = dir + "/config.json";
  ASSIGN_OR_RETURN(std::string config_text, ReadFile(config_path, 16 << 20));
  ASSIGN_OR_RETURN(m->config, ParseModelConfig(config_text, config_path));
  using Method = QuantConfig::Method;
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

  // Files: single or sharded.
  std::vector<std::string> names;
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;
  if (Exists(dir + "/model.safetensors")) {
    names.push_back("model.safetensors");
  } else if (Exists(index_path)) {
    ASSIGN_OR_RETURN(std::string index_text, ReadFile(index_path, 64 << 20));
    ASSIGN_OR_RETURN(weight_map, ParseSafetensorsIndex(index_text, index_path));
    for (auto& [t, f] : weight_map) {
      if (std::find(names.begin(), names.end(), f) == names.end()) names.push_back(f);
    }
    std::sort(names.begin(), names.end());
  } else {
    return NotFound(dir + ": neither model.safetensors nor model.safetensors.index.json exists");
  }

  TensorIndex index(&m->files);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), nullptr);
  for (const std::string& name : names) {
    auto f = OpenSafetensors(dir + "/" + name);
    if (!f.ok()) {
      EVP_MD_CTX_free(md);
      return f.status();
    }
    m->files.push_back(std::move(*f));
    const SafetensorsFile& sf = m->files.back();
    std::string id = name + "\n" + std::to_string(sf.map->size()) + "\n";
    EVP_DigestUpdate(md, id.data(), id.size());
    EVP_DigestUpdate(md, sf.map->data(), sf.header.data_start);
  }
  unsigned char digest[32];
  unsigned int dlen = 0;
  EVP_DigestFinal_ex(md, digest, &dlen);
  EVP_MD_CTX_free(md);
  m->identity = "sha256:";
  for (unsigned i = 0; i < dlen; ++i) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    m->identity += hex;
  }
  for (size_t i = 0; i < m->files.size(); ++i) {
    for (auto& [tname, info] : m->files[i].header.tensors) {
      auto w = weight_map.find(tname);
      if (!weight_map.empty() && w != weight_map.end() && w->second != names[i]) {
        return DataLoss(index_path + ": tensor \"" + tname + "\" is listed in " + w->second +
                        " but found in " + names[i]);
      }
      RETURN_IF_ERROR(index.Add(i, tname));
    }
  }

  const ModelConfig& c = m->config;
  const int64_t hidden = c.hidden_size, inter = c.intermediate_size, hd = c.head_dim;
  const int64_t qdim = c.num_heads * hd, kvdim = c.num_kv_heads * hd;
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) -> Result<Matrix> {
    ASSIGN_OR_RETURN(TensorRef t, index.Get(name, {rows, cols}));
    m->weight_bytes += t.info->end - t.info->begin;
    return Matrix{t.info->dtype, rows, cols, t.data()};
  };
  // A layer's linear weight: quantized as the checkpoint stores it (prefix.qweight, ...; every
  // layer linear for GPTQ, all but AWQ's modules_to_not_convert), else float (prefix.weight),
  // optionally made int8.
  const QuantConfig& qc = c.quant;
  auto linear = [&](const std::string& prefix, int64_t rows, int64_t cols) -> Result<Matrix> {
    bool stored_quant = qc.method == Method::kGptq || qc.method == Method::kAwq;
    for (const std::string& skip : qc.modules_to_not_convert) {
      if (!skip.empty() && prefix.find(skip) != std::string::npos) stored_quant = false;
    }
    if (stored_quant) {
      if (!index.Has(prefix + ".qweight")) {
        return NotFound("tensor \"" + prefix +
                        ".qweight\" is missing from the model (config.json's "
                        "quantization_config says " +
                        std::string(QuantMethodName(qc.method)) + " " + std::to_string(qc.bits) +
                        "-bit)");
      }
      auto q = qc.method == Method::kGptq ? LoadGptq(index, prefix, qc, rows, cols)
                                          : LoadAwq(index, prefix, qc, rows, cols);
      if (!q.ok()) return q.status();
      m->weight_bytes += (*q)->bytes();
      m->quantized.push_back(std::move(*q));
      return Matrix{DType::kOther, rows, cols, nullptr, m->quantized.back().get()};
    }
    ASSIGN_OR_RETURN(Matrix w, matrix(prefix + ".weight", rows, cols));
    if (qc.method == Method::kInt8) {
      if (auto q = QuantizeInt8(w)) {
        m->weight_bytes += q->bytes() - (w.rows * w.cols * DTypeSize(w.dtype));
        m->quantized.push_back(std::move(q));
        return Matrix{DType::kOther, rows, cols, nullptr, m->quantized.back().get()};
      }
    }
    return w;
  };
  auto vec = [&](const std::string& name, int64_t n) -> Result<std::vector<float>> {
    ASSIGN_OR_RETURN(TensorRef t, index.Get(name, {n}));
    m->weight_bytes += t.info->end - t.info->begin;
    return ToF32(*t.info, t.data());
  };

  ASSIGN_OR_RETURN(m->embed, matrix("model.embed_tokens.weight", c.vocab_size, hidden));
  if (c.tie_word_embeddings) {
    m->lm_head = m->embed;
  } else {
    ASSIGN_OR_RETURN(m->lm_head, matrix("lm_head.weight", c.vocab_size, hidden));
  }
  ASSIGN_OR_RETURN(m->final_norm, vec("model.norm.weight", hidden));
  m->layers.resize(c.num_layers);
  for (int l = 0; l < c.num_layers; ++l) {
    LayerWeights& L = m->layers[l];
    const std::string p = "model.layers." + std::to_string(l) + ".";
    ASSIGN_OR_RETURN(L.input_norm, vec(p + "input_layernorm.weight", hidden));
    ASSIGN_OR_RETURN(L.post_norm, vec(p + "post_attention_layernorm.weight", hidden));
    ASSIGN_OR_RETURN(L.q, linear(p + "self_attn.q_proj", qdim, hidden));
    ASSIGN_OR_RETURN(L.k, linear(p + "self_attn.k_proj", kvdim, hidden));
    ASSIGN_OR_RETURN(L.v, linear(p + "self_attn.v_proj", kvdim, hidden));
    ASSIGN_OR_RETURN(L.o, linear(p + "self_attn.o_proj", hidden, qdim));
    if (c.attention_bias) {
      ASSIGN_OR_RETURN(L.q_bias, vec(p + "self_attn.q_proj.bias", qdim));
      ASSIGN_OR_RETURN(L.k_bias, vec(p + "self_attn.k_proj.bias", kvdim));
      ASSIGN_OR_RETURN(L.v_bias, vec(p + "self_attn.v_proj.bias", kvdim));
    }
    if (c.qk_norm) {
      ASSIGN_OR_RETURN(L.q_norm, vec(p + "self_attn.q_norm.weight", hd));
      ASSIGN_OR_RETURN(L.k_norm, vec(p + "self_attn.k_norm.weight", hd));
    }
    ASSIGN_OR_RETURN(L.gate, linear(p + "mlp.gate_proj", inter, hidden));
    ASSIGN_OR_RETURN(L.up, linear(p + "mlp.up_proj", inter, hidden));
    ASSIGN_OR_RETURN(L.down, linear(p + "mlp.down_proj", hidden, inter));
  }
  // Every forward pass reads all the weights: map them now, not in the first request.
  for (const SafetensorsFile& f : m->files) f.map->Populate();
  return std::shared_ptr<const Model>(std::move(m));
}

}  // namespace modelcar::llm
