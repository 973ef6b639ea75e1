// `modelcar serve MODEL`: the OpenAI/vLLM-compatible server (serve/openai_server.h). MODEL is a
// model directory, or oci://REF (pulled into the node store and mounted while the listener
// already answers /health with 503; the only network use of serve). Hub ids are refused: serving
// is offline. A directory that does not exist yet (the modelcar sidecar's /mnt/models link) is
// waited for, /health 503 meanwhile, up to --wait-for-model seconds. MODELCAR_MODEL_IMAGE (set by
// the webhook to the pinned image mounted at /mnt/models) puts that digest in system_fingerprint.
//
// The command line is vLLM's (`vllm serve`): its flags are accepted with underscores or dashes;
// those that change nothing here warn once each, those that cannot be honoured fail
// (serve/vllm_flags.h), an unknown flag fails naming it.
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>

#include "cli/command.h"
#include "cli/store_pull_flags.h"
#include "http/client.h"
#include "node/mount.h"
#include "serve/http_limit_flags.h"
#include "serve/model_source.h"
#include "serve/openai_server.h"
#include "serve/serve_flags.h"
#include "serve/vllm_flags.h"
#include "store/gc.h"

namespace {

using modelcar::Status;
using modelcar::serve::VllmFlag;

struct Flags {
  std::string model_flag;
  modelcar::serve::ServeOptions serve;
  modelcar::serve::ServeFlags vllm;  // decided by serve/serve_flags.h
  std::string kv_cache_memory = "2GiB";
  std::string store;
  modelcar::cli::StorePullFlags pull;
  double pull_retry_max_delay = -1;  // seconds; -1: the default
  double wait_for_model = 300;       // seconds a missing model directory is waited for
  std::map<std::string, CLI::Option*> table_opts;  // the vLLM flags of the tables
};

// "--max-model-len" -> "--max-model-len,--max_model_len" (vLLM accepts both spellings).
std::string Names(const std::string& name) {
  std::string under = name.substr(0, 2);
  for (char c : name.substr(2)) under += c == '-' ? '_' : c;
  return under == name ? name : name + "," + under;
}

bool IsDir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status Configure(Flags& f, const std::vector<std::string>& rest, std::string* model) {
  std::string positional;
  RETURN_IF_ERROR(modelcar::serve::TakeRemainingArgs(rest, &f.vllm, &positional));
  *model = f.model_flag.empty() ? positional : f.model_flag;
  for (const auto& [name, opt] : f.table_opts) {
    if (opt->count() > 0) f.vllm.table_given.insert(name);
  }
  RETURN_IF_ERROR(modelcar::serve::CheckTableFlags(f.vllm, [](const std::string& line) {
    std::fprintf(stderr, "modelcar serve: warning: %s\n", line.c_str());
  }));
  auto& mo = f.serve.model;
  mo.version = MODELCAR_VERSION;
  ASSIGN_OR_RETURN(mo.kv_cache_bytes, modelcar::store::ParseByteSize(f.kv_cache_memory));
  const char* key = std::getenv("VLLM_API_KEY");
  RETURN_IF_ERROR(modelcar::serve::ApplyServeFlags(f.vllm, key ? key : "", &f.serve));
  if (mo.generation_config != "auto" && mo.generation_config != "vllm" &&
      !IsDir(mo.generation_config)) {
    return modelcar::InvalidArgument("--generation-config " + mo.generation_config +
                                     ": not auto, vllm or a directory");
  }
  if (model->empty()) {
    return modelcar::InvalidArgument("MODEL (a directory or oci://REF) is required");
  }
  return Status();
}

Status Run(Flags& f, const std::vector<std::string>& rest) {
  std::string model;
  RETURN_IF_ERROR(Configure(f, rest, &model));
  auto& mo = f.serve.model;

  std::string link_dir;
  if (model.rfind("oci://", 0) == 0) {
    std::string ref = model.substr(6);
    auto o = std::make_shared<modelcar::MountOptions>();
    ASSIGN_OR_RETURN(o->pull, f.pull.Options(f.store, /*quiet=*/false, "modelcar serve: "));
    auto& retry = o->pull.registry.retry;
    if (f.pull_retry_max_delay >= 0) {
      retry.max_delay = std::chrono::milliseconds(int64_t(f.pull_retry_max_delay * 1000));
      retry.base_delay = std::min(retry.base_delay, retry.max_delay);
    }
    // A lease-holding link private to this process keeps the tree from gc while serving.
    char tmpl[] = "/tmp/modelcar-serve-XXXXXX";
    if (!::mkdtemp(tmpl)) return modelcar::ErrnoStatus(errno, "mkdtemp /tmp/modelcar-serve-*");
    link_dir = tmpl;
    if (mo.served_model_name.empty()) mo.served_model_name = modelcar::serve::OciModelName(ref);
    // Pulled and mounted on serve's loader thread, after the listener is up.
    f.serve.prepare = [ref, o, link_dir](modelcar::serve::ModelOptions* m) -> Status {
      auto mounted = modelcar::MountImage(ref, link_dir + "/models", *o);
      if (!mounted.ok()) return mounted.status();
      std::fprintf(stderr, "modelcar serve: %s -> %s\n", mounted->pull.pinned.c_str(),
                   mounted->target.c_str());
      m->model_dir = mounted->target;
      m->weights_digest = mounted->pull.manifest.ToString();
      return Status();
    };
    f.serve.cancel_prepare = [] { modelcar::http::RequestCancel(); };
  } else if (!IsDir(model) && modelcar::serve::LooksLikeHubId(model)) {
    return modelcar::InvalidArgument(
        "'" + model +
        "' is not a local directory. modelcar serve is offline: it never downloads "
        "from a model hub (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE are always in effect). Serve a "
        "directory (e.g. /mnt/models) or a digest-pinned image: oci://REGISTRY/REPO@sha256:...");
  } else {
    mo.model_dir = model;
    // vLLM: without --served-model-name the model id is the MODEL argument as given.
    if (mo.served_model_name.empty()) mo.served_model_name = model;
    if (const char* image = std::getenv(modelcar::serve::kModelImageEnv); image && *image) {
      auto digest = modelcar::serve::PinnedImageDigest(image);
      if (digest.ok()) {
        mo.weights_digest = *digest;
        std::fprintf(stderr, "modelcar serve: model image %s (%s): system_fingerprint carries %s\n",
                     image, modelcar::serve::kModelImageEnv, digest->c_str());
      } else {
        std::fprintf(stderr, "modelcar serve: warning: ignoring %s: %s\n",
                     modelcar::serve::kModelImageEnv, digest.status().message().c_str());
      }
    }
    // Waited for on serve's loader thread, after the listener is up (/health 503 meanwhile).
    auto cancel = std::make_shared<std::atomic<bool>>(false);
    auto timeout = std::chrono::milliseconds(int64_t(std::max(0.0, f.wait_for_model) * 1000));
    f.serve.prepare = [cancel, timeout](modelcar::serve::ModelOptions* m) -> Status {
      return modelcar::serve::WaitForModelDir(
          m->model_dir, timeout, *cancel, [](std::string_view line) {
            std::fprintf(stderr, "modelcar serve: %.*s\n", static_cast<int>(line.size()),
                         line.data());
          });
    };
    f.serve.cancel_prepare = [cancel] { cancel->store(true); };
  }
  Status st = modelcar::serve::RunServe(f.serve);
  if (!link_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(link_dir, ec);  // releases the lease
  }
  return st;
}

// The vLLM flags of the tables: a value flag keeps its last value; a switch also has --no-<name>.
void AddTableFlags(CLI::App& app, Flags& f) {
  for (auto table : {modelcar::serve::IgnoredVllmFlags(), modelcar::serve::RefusedVllmFlags()}) {
    for (const VllmFlag& fl : table) {
      const std::string name = fl.name;
      const std::string help = std::string("vLLM flag; ") + fl.why;
      CLI::Option* opt;
      if (fl.takes_value) {
        opt = app.add_option(Names(name), f.vllm.table_value[name], help);
      } else {
        std::string names = Names(name);
        std::string no = Names("--no-" + name.substr(2));
        for (size_t at = 0; at < no.size();) {  // each spelling of --no-<name> negates
          size_t comma = no.find(',', at);
          names += ",!" + no.substr(at, comma - at);
          at = comma == std::string::npos ? no.size() : comma + 1;
        }
        opt = app.add_flag(names, f.vllm.table_switch[name], help);
      }
      opt->group("vLLM flags without effect here, or refused");
      f.table_opts[name] = opt;
    }
  }
}

const modelcar::cli::CommandRegistration kServe{
    "serve",
    "Serve a model directory or oci:// image with an OpenAI/vLLM-compatible API "
    "(modelcar serve MODEL [vLLM serve flags])",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      auto& s = f->serve;
      auto& m = s.model;
      app.allow_extras();
      app.footer(
          "MODEL: a model directory or oci://REGISTRY/REPO@sha256:... (or --model). vLLM's "
          "flags are accepted with - or _; see docs/serve.md.");
      app.add_option(Names("--model"), f->model_flag, "Model directory or oci:// image");
      app.add_option("--host", s.host, "Address to listen on")->capture_default_str();
      app.add_option("--port", s.port, "Port (0: any free port)")->capture_default_str();
      app.add_option(Names("--served-model-name"), f->vllm.served_names,
                     "Model name(s) in the API; the first is reported (default: MODEL as given, "
                     "or the repository name for oci://)");
      app.add_option(Names("--max-model-len"), f->vllm.max_model_len,
                     "Context length: 4096, 4k (4000), 4K (4096), auto (default: the model's, "
                     "capped by the KV cache)");
      app.add_option(Names("--max-num-seqs"), m.max_num_seqs, "Sequences in the running batch")
          ->capture_default_str();
      app.add_option(Names("--max-num-batched-tokens"), f->vllm.max_num_batched_tokens,
                     "Positions fed per engine step (prefill chunk budget; default 512)");
      app.add_option(Names("--max-queue"), m.max_waiting,
                     "Waiting requests beyond which new ones get 503")
          ->capture_default_str();
      app.add_option(Names("--kv-cache-memory"), f->kv_cache_memory, "KV cache budget (e.g. 2GiB)")
          ->capture_default_str();
      app.add_option(Names("--kv-cache-memory-bytes"), f->vllm.kv_cache_memory_bytes,
                     "KV cache budget in vLLM's form (e.g. 2G); wins over --kv-cache-memory");
      app.add_option(Names("--api-key"), s.api_keys,
                     "Require 'Authorization: Bearer KEY' (one of the keys; or VLLM_API_KEY)");
      app.add_option(Names("--threads"), m.threads, "Engine threads (default: all cores)");
      app.add_option(Names("--precision"), f->vllm.precision,
                     "Engine numerics: fast (bf16 matrix inputs, f16 KV cache) or exact (f32)")
          ->capture_default_str();
      app.add_option("--quantization,-q", m.quantization,
                     "int8: the layers' linear weights quantized to int8 at load (a float "
                     "checkpoint); gptq/awq: require that checkpoint format; none: as stored")
          ->capture_default_str();
      app.add_option(Names("--idle-timeout"), s.idle_timeout_s,
                     "Exit 0 after this many seconds without requests (0: never)");
      app.add_option(Names("--wait-for-model"), f->wait_for_model,
                     "Seconds to wait for a model directory that does not exist yet (the "
                     "modelcar sidecar's link), /health 503 meanwhile; 0: fail at once")
          ->capture_default_str();
      app.add_option(Names("--tokenizer"), m.tokenizer_dir,
                     "Directory of the tokenizer and chat template (default: MODEL)");
      app.add_option(Names("--generation-config"), m.generation_config,
                     "Sampling defaults: auto (the model's generation_config.json), vllm (none) "
                     "or a directory")
          ->capture_default_str();
      app.add_option(Names("--override-generation-config"), m.override_generation_config,
                     "JSON merged over the generation config, e.g. '{\"temperature\": 0.5}'");
      app.add_option(Names("--chat-template"), m.chat_template,
                     "Chat template file, or the template itself");
      app.add_flag(Names("--trust-request-chat-template"), m.trust_request_chat_template,
                   "Allow a request's own chat_template");
      app.add_option(Names("--default-chat-template-kwargs"), m.default_chat_template_kwargs,
                     "JSON object of chat template variables, e.g. '{\"enable_thinking\": false}'");
      app.add_option(Names("--response-role"), m.response_role, "Role of the generated message")
          ->capture_default_str();
      app.add_option(Names("--max-logprobs"), m.max_logprobs,
                     "Most logprobs a request may ask for (-1: no limit)")
          ->capture_default_str();
      app.add_option(Names("--seed"), f->vllm.seed,
                     "Seed of the random numbers of requests without a seed (default 0; None: "
                     "random)");
      app.add_option(Names("--allowed-origins"), f->vllm.allowed_origins,
                     "CORS: JSON list of origins (default [\"*\"])");
      app.add_option(Names("--allowed-methods"), f->vllm.allowed_methods,
                     "CORS: JSON list of methods (default [\"*\"])");
      app.add_option(Names("--allowed-headers"), f->vllm.allowed_headers,
                     "CORS: JSON list of headers (default [\"*\"])");
      app.add_flag(Names("--allow-credentials"), s.cors.allow_credentials, "CORS: credentials");
      app.add_option(Names("--root-path"), s.root_path,
                     "Path prefix under which every route also answers (behind a proxy)");
      app.add_flag(Names("--enable-request-id-headers"), s.enable_request_id_headers,
                   "Add X-Request-Id to every response");
      app.add_flag(Names("--enable-log-requests") + ",!--no-enable-log-requests",
                   f->vllm.log_requests, "Log each request (id, prompt, sampling parameters)");
      app.add_flag(Names("--disable-log-requests") + ",!--no-disable-log-requests",
                   f->vllm.disable_log_requests, "Do not log requests (the default)");
      app.add_option(Names("--max-log-len"), m.max_log_len,
                     "Prompt characters and token ids logged per request (default: all)");
      app.add_option(Names("--uvicorn-log-level"), f->vllm.uvicorn_log_level,
                     "Access log at info and below: critical|error|warning|info|debug|trace")
          ->capture_default_str();
      app.add_flag(Names("--disable-uvicorn-access-log"), f->vllm.disable_access_log,
                   "No access log lines");
      app.add_option(Names("--disable-access-log-for-endpoints"), f->vllm.access_log_exclude,
                     "Comma-separated paths left out of the access log (e.g. /health,/metrics)");
      app.add_flag(Names("--enable-prefix-caching") +
                       ",!--no-enable-prefix-caching,!--no_enable_prefix_caching",
                   m.enable_prefix_caching,
                   "Keep the KV blocks of prompts and reuse them for prompts that start alike "
                   "(default on; --no-enable-prefix-caching: off)");
      app.add_flag(Names("--enable-prompt-tokens-details"), m.enable_prompt_tokens_details,
                   "usage.prompt_tokens_details.cached_tokens in responses");
      app.add_flag(Names("--enable-force-include-usage"), m.enable_force_include_usage,
                   "Usage in every stream, as if stream_options.include_usage were set");
      app.add_flag(Names("--enable-server-load-tracking"), s.enable_server_load_tracking,
                   "Count generation requests in flight for GET /load");
      app.add_flag(Names("--return-tokens-as-token-ids"), m.return_tokens_as_token_ids,
                   "Logprob tokens as 'token_id:<id>' by default");
      app.add_option(Names("--reasoning-parser"), m.reasoning_parser,
                     "Split <think>...</think> into the message's reasoning: qwen3 | deepseek_r1");
      app.add_flag(Names("--enable-auto-tool-choice"), f->vllm.enable_auto_tool_choice,
                   "Allow tool_choice \"auto\": tool calls parsed from the output");
      app.add_option(Names("--tool-call-parser"), f->vllm.tool_call_parser,
                     "Format of the model's tool calls: hermes (Qwen2.5, Qwen3)");
      app.add_flag(Names("--exclude-tools-when-tool-choice-none"),
                   f->vllm.exclude_tools_when_tool_choice_none,
                   "With tool_choice \"none\", the tools are not rendered into the prompt");
      app.add_option(Names("--ssl-certfile"), s.tls_cert_file, "TLS certificate (PEM): HTTPS");
      app.add_option(Names("--ssl-keyfile"), s.tls_key_file, "TLS private key (PEM)");
      app.add_option(Names("--store"), f->store, "Node store for oci:// models");
      f->pull.Add(app, "oci:// pull policy: always | if-not-present | never");
      app.add_option(Names("--pull-retry-max-delay"), f->pull_retry_max_delay,
                     "oci:// pull: cap of the jittered backoff between retries, seconds "
                     "(default 10)");
      for (const modelcar::serve::HttpLimitFlag& fl : modelcar::serve::HttpLimitFlags()) {
        app.add_option(
               Names(fl.name), f->vllm.http_limits[fl.name],
               fmt::format("{} (default {})", fl.help, modelcar::serve::HttpLimitValue(fl, s.http)))
            ->group("HTTP limits");
      }
      AddTableFlags(app, *f);
      CLI::App* appp = &app;
      return [f, appp]() -> Status { return Run(*f, appp->remaining()); };
    }};

}  // namespace
