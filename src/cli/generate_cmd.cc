// `modelcar generate`: runs the CPU engine on one prompt and prints the generated ids, text and
// per-step logprobs (a debugging and scripting tool; the server is `modelcar serve`).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/json.h"
#include "cli/command.h"
#include "llm/engine/generate.h"
#include "llm/ops/ops.h"
#include "llm/tokenizer/tokenizer.h"

namespace {

using modelcar::Result;
using modelcar::Status;
namespace llm = modelcar::llm;

struct Flags {
  std::string dir, prompt, prompt_ids, dump_logits, dump_prompt_logits, quantization = "none";
  int max_tokens = 16;
  float temperature = 0;
  int top_k = 0;
  float top_p = 1, min_p = 0, repetition_penalty = 1, presence_penalty = 0, frequency_penalty = 0;
  int64_t seed = -1;
  int logprobs = 0;
  int threads = 0;
  std::string precision = "fast";
  bool json = false, ignore_eos = false, raw = false;
};

Result<std::vector<int32_t>> ParseIds(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_array()) return modelcar::InvalidArgument("--prompt-ids must be a JSON array of ids");
    std::vector<int32_t> ids;
    for (auto& v : j) {
      if (!v.is_number_integer()) {
        return modelcar::InvalidArgument("--prompt-ids must hold integer token ids");
      }
      ids.push_back(v.get<int32_t>());
    }
    return ids;
  } catch (const nlohmann::json::exception& e) {
    return modelcar::InvalidArgument(std::string("--prompt-ids: not valid JSON: ") +
                                     modelcar::PrintableAscii(e.what()));
  }
}

// The request the flags ask for: the prompt (text through `tok`, or ids), sampling, stop ids.
modelcar::Result<llm::GenerateRequest> RequestOf(const Flags& f, const llm::Model& model,
                                                 const std::optional<llm::Tokenizer>& tok) {
  llm::GenerateRequest req;
  if (!f.prompt.empty() == !f.prompt_ids.empty()) {
    return modelcar::InvalidArgument("give exactly one of --prompt and --prompt-ids");
  }
  if (!f.prompt.empty()) {
    ASSIGN_OR_RETURN(req.prompt, tok->Encode(f.prompt, true));
  } else {
    ASSIGN_OR_RETURN(req.prompt, ParseIds(f.prompt_ids));
  }
  req.max_tokens = f.max_tokens;
  if (!f.dump_logits.empty() && !f.dump_prompt_logits.empty()) {
    return modelcar::InvalidArgument("give at most one of --dump-logits and --dump-prompt-logits");
  }
  req.keep_prefill_logits = !f.dump_logits.empty() || !f.dump_prompt_logits.empty();
  req.all_prompt_logits = !f.dump_prompt_logits.empty();
  req.sampling.temperature = f.temperature;
  req.sampling.top_k = f.top_k;
  req.sampling.top_p = f.top_p;
  req.sampling.min_p = f.min_p;
  req.sampling.repetition_penalty = f.repetition_penalty;
  req.sampling.presence_penalty = f.presence_penalty;
  req.sampling.frequency_penalty = f.frequency_penalty;
  if (f.seed >= 0) req.sampling.seed = static_cast<uint64_t>(f.seed);
  req.sampling.logprobs = f.logprobs;
  if (!f.ignore_eos) {
    for (int id : model.EosTokenIds()) req.stop_ids.push_back(id);
  }
  return req;
}

// --json: the tokens with their logprobs, timing and the engine's set-up, one JSON line.
void PrintJson(const llm::GenerateRequest& req, const llm::GenerateResult& res,
               const llm::Engine& engine, const std::vector<int32_t>& ids,
               const std::string& text) {
  nlohmann::ordered_json out;
  out["prompt_tokens"] = req.prompt.size();
  out["ids"] = ids;
  out["text"] = text;
  out["finish_reason"] = res.finish_reason;
  nlohmann::ordered_json steps = nlohmann::json::array();
  for (auto& t : res.tokens) {
    nlohmann::ordered_json s;
    s["id"] = t.token;
    s["logprob"] = t.logprob;
    nlohmann::ordered_json top = nlohmann::json::array();
    for (auto& e : t.top) top.push_back({{"id", e.token}, {"logprob", e.logprob}});
    s["top"] = top;
    steps.push_back(s);
  }
  out["logprobs"] = steps;
  const double n = static_cast<double>(res.tokens.size());
  out["timing"] = {{"prefill_seconds", res.prefill_seconds},
                   {"decode_seconds", res.decode_seconds},
                   {"prefill_tokens_per_second",
                    res.prefill_seconds > 0 ? req.prompt.size() / res.prefill_seconds : 0},
                   {"decode_tokens_per_second",
                    n > 1 && res.decode_seconds > 0 ? (n - 1) / res.decode_seconds : 0}};
  out["engine"] = {{"precision", llm::PrecisionName(engine.precision())},
                   {"threads", engine.threads()},
                   {"avx512_bf16", modelcar::llm::ops::UsesAvx512Bf16()}};
  out["note"] = "timing is informational; synthetic models have random weights (text is noise)";
  std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

Status Run(const Flags& f) {
  llm::LoadOptions load;
  ASSIGN_OR_RETURN(load.quantization, llm::ParseQuantMethod(f.quantization));
  ASSIGN_OR_RETURN(auto model, llm::LoadModel(f.dir, load));
  std::optional<llm::Tokenizer> tok;
  if (auto t = llm::Tokenizer::FromDir(f.dir); t.ok()) {
    tok.emplace(std::move(*t));
  } else if (!f.prompt.empty()) {
    return t.status();
  }
  ASSIGN_OR_RETURN(llm::GenerateRequest req, RequestOf(f, *model, tok));
  const auto precision = llm::ParsePrecision(f.precision);
  if (!precision) return modelcar::InvalidArgument("--precision must be exact or fast");
  llm::Engine engine(model, llm::EngineOptions{f.threads, *precision});
  const uint64_t kv_bytes = [&] {
    const auto& c = model->config;
    return uint64_t{2} * c.num_layers * c.num_kv_heads * c.head_dim * sizeof(float) *
           (req.prompt.size() + f.max_tokens + 64);
  }();
  ASSIGN_OR_RETURN(auto cache,
                   llm::KvCache::Create(model->config, kv_bytes, 16, engine.kv_dtype()));
  ASSIGN_OR_RETURN(llm::GenerateResult res, llm::Generate(engine, *cache, req));

  if (req.keep_prefill_logits) {
    RETURN_IF_ERROR(modelcar::WriteFileAtomic(
        req.all_prompt_logits ? f.dump_prompt_logits : f.dump_logits,
        std::string_view(reinterpret_cast<const char*>(res.prefill_logits.data()),
                         res.prefill_logits.size() * sizeof(float))));
  }
  std::vector<int32_t> ids;
  for (auto& t : res.tokens) ids.push_back(t.token);
  std::string text = tok ? tok->Decode(ids, !f.raw) : "";
  if (!f.json) {
    if (tok) {
      std::printf("%s\n", text.c_str());
    } else {
      std::printf("%s\n", nlohmann::json(ids).dump().c_str());
    }
    return Status();
  }
  PrintJson(req, res, engine, ids, text);
  return Status();
}

const modelcar::cli::CommandRegistration kGenerate{
    "generate", "Generate tokens from a model directory with the CPU engine (debugging)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("model_dir", f->dir, "Model directory (config.json, safetensors)")->required();
      app.add_option("--prompt", f->prompt, "Prompt text (tokenized with the model's tokenizer)");
      app.add_option("--prompt-ids", f->prompt_ids, "Prompt as a JSON array of token ids");
      app.add_option("--max-tokens", f->max_tokens, "Tokens to generate")->default_val(16);
      app.add_option("--temperature", f->temperature, "0 = greedy")->default_val(0);
      app.add_option("--top-k", f->top_k, "0 = off")->default_val(0);
      app.add_option("--top-p", f->top_p)->default_val(1);
      app.add_option("--min-p", f->min_p)->default_val(0);
      app.add_option("--repetition-penalty", f->repetition_penalty)->default_val(1);
      app.add_option("--presence-penalty", f->presence_penalty)->default_val(0);
      app.add_option("--frequency-penalty", f->frequency_penalty)->default_val(0);
      app.add_option("--seed", f->seed, "Sampling seed (default: random)");
      app.add_option("--logprobs", f->logprobs, "Top logprobs per step")->default_val(0);
      app.add_option("--threads", f->threads, "Engine threads (default: all cores)");
      app.add_option("--precision", f->precision,
                     "Engine numerics: fast (bf16 matrix inputs and KV cache) or exact (f32)")
          ->capture_default_str();
      app.add_option("--quantization", f->quantization,
                     "int8: the layers' linear weights quantized to int8 at load (a float "
                     "checkpoint); gptq/awq: require that checkpoint format; none: as stored")
          ->default_val("none");
      app.add_flag("--ignore-eos", f->ignore_eos, "Do not stop at the model's EOS ids");
      app.add_flag("--raw", f->raw, "Keep special tokens in the text");
      app.add_option("--dump-logits", f->dump_logits,
                     "Write the last prompt position's logits (raw little-endian f32) to a file");
      app.add_option("--dump-prompt-logits", f->dump_prompt_logits,
                     "Write every prompt position's logits ([prompt, vocab] raw little-endian "
                     "f32) to a file");
      app.add_flag("--json", f->json, "Print ids, text, logprobs and timing as JSON");
      return [f]() { return Run(*f); };
    }};

}  // namespace
