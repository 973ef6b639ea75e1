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
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/store_pull_flags.h"
#include "http/client.h"
#include "modelcar/mount.h"
#include "serve/model_source.h"
#include "serve/openai_server.h"
#include "serve/vllm_flags.h"
#include "store/gc.h"

namespace {

using modelcar::Status;
using modelcar::serve::VllmFlag;

struct Flags {
  std::string model_flag;
  modelcar::serve::ServeOptions serve;
  std::vector<std::string> served_names;
  std::string max_model_len, max_num_batched_tokens, kv_cache_memory_bytes;
  std::string kv_cache_memory = "2GiB";
  std::string precision = "fast";
  std::string allowed_origins, allowed_methods, allowed_headers;
  std::string uvicorn_log_level = "info";
  bool disable_access_log = false;
  std::string access_log_exclude;
  bool log_requests = false, disable_log_requests = false;
  std::string seed;
  std::string store;
  modelcar::cli::StorePullFlags pull;
  double pull_retry_max_delay = -1;  // seconds; -1: the default
  double wait_for_model = 300;       // seconds a missing model directory is waited for
  // vLLM flags from the tables (node-based maps: CLI11 keeps references to the values).
  std::map<std::string, CLI::Option*> table_opts;
  std::map<std::string, std::string> table_value;
  std::map<std::string, bool> table_switch;
  std::map<std::string, int> short_count;  // given in a short form (-tp 2)

  bool Given(const std::string& name) const {
    auto it = table_opts.find(name);
    return (it != table_opts.end() && it->second->count() > 0) || short_count.count(name);
  }
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

// "org/name" that is not a path on this machine: what `vllm serve` would download.
bool LooksLikeHubId(const std::string& m) {
  if (m.empty() || m[0] == '/' || m[0] == '.' || m[0] == '~') return false;
  size_t slash = m.find('/');
  return slash != std::string::npos && m.find('/', slash + 1) == std::string::npos;
}

std::string RepoName(const std::string& ref) {
  std::string r = ref.substr(0, ref.find('@'));
  size_t slash = r.rfind('/');
  std::string last = slash == std::string::npos ? r : r.substr(slash + 1);
  size_t colon = last.find(':');
  return colon == std::string::npos ? last : last.substr(0, colon);
}

void Warn(const std::string& line) {
  std::fprintf(stderr, "modelcar serve: warning: %s\n", line.c_str());
}

// A JSON list of strings (vLLM's --allowed-origins '["https://a"]').
modelcar::Result<std::vector<std::string>> JsonList(const std::string& value,
                                                    const std::string& flag) {
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return modelcar::InvalidArgument(flag + " must be a JSON list of strings, e.g. '[\"*\"]'");
  }
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) return modelcar::InvalidArgument(flag + " must list strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

// The positional MODEL and the short vLLM forms (-tp 2, -O3) among the arguments CLI11 left;
// anything else is an unknown flag or a stray argument.
Status TakeRemaining(const std::vector<std::string>& rest, Flags& f, std::string* model) {
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    const VllmFlag* shortf = nullptr;
    std::string inline_value;
    for (auto table : {modelcar::serve::IgnoredVllmFlags(), modelcar::serve::RefusedVllmFlags()}) {
      for (const VllmFlag& fl : table) {
        if (!fl.alias) continue;
        std::string al = fl.alias;
        if (a == al || a.rfind(al + "=", 0) == 0 ||
            (al == "-O" && a.size() > 2 && a.rfind("-O", 0) == 0 && a[2] != '-')) {
          shortf = &fl;
          if (a.size() > al.size()) inline_value = a.substr(al.size() + (a[al.size()] == '='));
        }
      }
    }
    if (shortf) {
      std::string value = inline_value;
      if (value.empty() && shortf->takes_value) {
        if (i + 1 >= rest.size()) {
          return modelcar::InvalidArgument(std::string(shortf->alias) + " needs a value");
        }
        value = rest[++i];
      }
      ++f.short_count[shortf->name];
      f.table_value[shortf->name] = value;
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      return modelcar::InvalidArgument("unrecognized argument: " + a +
                                       " (not a vLLM serve flag modelcar knows; see "
                                       "`modelcar serve --help` and docs/serve.md)");
    }
    if (!model->empty()) {
      return modelcar::InvalidArgument("unexpected argument '" + a + "' (MODEL is " + *model + ")");
    }
    *model = a;
  }
  return Status();
}

// One warning per ignored flag given; an error for a refused flag with a harmful value.
Status CheckTableFlags(const Flags& f) {
  for (const VllmFlag& fl : modelcar::serve::IgnoredVllmFlags()) {
    if (!f.Given(fl.name)) continue;
    std::string given = fl.name;
    if (fl.takes_value) given += " " + f.table_value.at(fl.name);
    Warn(given + " " + fl.why + "; ignored");
  }
  for (const VllmFlag& fl : modelcar::serve::RefusedVllmFlags()) {
    if (!f.Given(fl.name)) continue;
    if (fl.takes_value && IsHarmlessValue(fl, f.table_value.at(fl.name))) continue;
    if (!fl.takes_value && !f.table_switch.at(fl.name)) continue;  // --no-<flag>
    std::string given = fl.name;
    if (fl.takes_value) given += " " + f.table_value.at(fl.name);
    return modelcar::InvalidArgument(given + " " + fl.why);
  }
  return Status();
}

Status Configure(Flags& f, const std::string& model) {
  auto& s = f.serve;
  auto& mo = s.model;
  mo.version = MODELCAR_VERSION;
  RETURN_IF_ERROR(CheckTableFlags(f));
  if (!f.served_names.empty()) {
    mo.served_model_name = f.served_names[0];
    mo.extra_served_names.assign(f.served_names.begin() + 1, f.served_names.end());
  }
  if (!f.max_model_len.empty() && f.max_model_len != "auto") {
    ASSIGN_OR_RETURN(int64_t v, modelcar::serve::ParseHumanInt(f.max_model_len, "--max-model-len"));
    if (v < -1 || v > INT32_MAX) return modelcar::InvalidArgument("--max-model-len out of range");
    mo.max_model_len = v == -1 ? 0 : static_cast<int>(v);
  }
  if (!f.max_num_batched_tokens.empty()) {
    ASSIGN_OR_RETURN(int64_t v, modelcar::serve::ParseHumanInt(f.max_num_batched_tokens,
                                                               "--max-num-batched-tokens"));
    if (v < 1 || v > INT32_MAX) {
      return modelcar::InvalidArgument("--max-num-batched-tokens must be at least 1");
    }
    mo.max_num_batched_tokens = static_cast<int>(v);
  }
  if (!f.kv_cache_memory_bytes.empty()) {
    ASSIGN_OR_RETURN(int64_t v, modelcar::serve::ParseHumanInt(f.kv_cache_memory_bytes,
                                                               "--kv-cache-memory-bytes"));
    if (v < 1) return modelcar::InvalidArgument("--kv-cache-memory-bytes must be positive");
    mo.kv_cache_bytes = static_cast<uint64_t>(v);
  } else {
    ASSIGN_OR_RETURN(mo.kv_cache_bytes, modelcar::store::ParseByteSize(f.kv_cache_memory));
  }
  const auto precision = modelcar::llm::ParsePrecision(f.precision);
  if (!precision) return modelcar::InvalidArgument("--precision must be exact or fast");
  mo.precision = *precision;
  if (!f.seed.empty()) {
    if (f.seed == "None" || f.seed == "none") {
      mo.seed.reset();
    } else {
      ASSIGN_OR_RETURN(int64_t v, modelcar::serve::ParseHumanInt(f.seed, "--seed"));
      mo.seed = static_cast<uint64_t>(v);
    }
  }
  if (!f.allowed_origins.empty()) {
    ASSIGN_OR_RETURN(s.cors.allowed_origins, JsonList(f.allowed_origins, "--allowed-origins"));
  }
  if (!f.allowed_methods.empty()) {
    ASSIGN_OR_RETURN(s.cors.allowed_methods, JsonList(f.allowed_methods, "--allowed-methods"));
  }
  if (!f.allowed_headers.empty()) {
    ASSIGN_OR_RETURN(s.cors.allowed_headers, JsonList(f.allowed_headers, "--allowed-headers"));
  }
  static const char* kLevels[] = {"critical", "error", "warning", "info", "debug", "trace"};
  if (std::find(std::begin(kLevels), std::end(kLevels), f.uvicorn_log_level) == std::end(kLevels)) {
    return modelcar::InvalidArgument(
        "--uvicorn-log-level must be one of critical, error, warning, info, debug, trace");
  }
  // uvicorn's access log is at INFO.
  s.access_log = !f.disable_access_log && f.uvicorn_log_level != "critical" &&
                 f.uvicorn_log_level != "error" && f.uvicorn_log_level != "warning";
  for (size_t at = 0; at < f.access_log_exclude.size();) {
    size_t comma = f.access_log_exclude.find(',', at);
    std::string p = f.access_log_exclude.substr(at, comma - at);
    if (!p.empty()) s.access_log_exclude.push_back(p);
    at = comma == std::string::npos ? f.access_log_exclude.size() : comma + 1;
  }
  mo.log_requests = f.log_requests && !f.disable_log_requests;
  if (mo.generation_config != "auto" && mo.generation_config != "vllm" &&
      !IsDir(mo.generation_config)) {
    return modelcar::InvalidArgument("--generation-config " + mo.generation_config +
                                     ": not auto, vllm or a directory");
  }
  if (s.tls_cert_file.empty() != s.tls_key_file.empty()) {
    return modelcar::InvalidArgument("--ssl-certfile and --ssl-keyfile go together");
  }
  if (const char* k = std::getenv("VLLM_API_KEY"); k && *k && s.api_keys.empty()) {
    s.api_keys.push_back(k);
  }
  if (model.empty()) {
    return modelcar::InvalidArgument("MODEL (a directory or oci://REF) is required");
  }
  return Status();
}

Status Run(Flags& f, const std::vector<std::string>& rest) {
  std::string model = f.model_flag;
  std::string positional;
  RETURN_IF_ERROR(TakeRemaining(rest, f, &positional));
  if (model.empty()) model = positional;
  RETURN_IF_ERROR(Configure(f, model));
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
    if (mo.served_model_name.empty()) mo.served_model_name = RepoName(ref);
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
  } else if (!IsDir(model) && LooksLikeHubId(model)) {
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
        opt = app.add_option(Names(name), f.table_value[name], help);
      } else {
        std::string names = Names(name);
        std::string no = Names("--no-" + name.substr(2));
        for (size_t at = 0; at < no.size();) {  // each spelling of --no-<name> negates
          size_t comma = no.find(',', at);
          names += ",!" + no.substr(at, comma - at);
          at = comma == std::string::npos ? no.size() : comma + 1;
        }
        opt = app.add_flag(names, f.table_switch[name], help);
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
      app.add_option(Names("--served-model-name"), f->served_names,
                     "Model name(s) in the API; the first is reported (default: MODEL as given, "
                     "or the repository name for oci://)");
      app.add_option(Names("--max-model-len"), f->max_model_len,
                     "Context length: 4096, 4k (4000), 4K (4096), auto (default: the model's, "
                     "capped by the KV cache)");
      app.add_option(Names("--max-num-seqs"), m.max_num_seqs, "Sequences in the running batch")
          ->capture_default_str();
      app.add_option(Names("--max-num-batched-tokens"), f->max_num_batched_tokens,
                     "Positions fed per engine step (prefill chunk budget; default 512)");
      app.add_option(Names("--max-queue"), m.max_waiting,
                     "Waiting requests beyond which new ones get 503")
          ->capture_default_str();
      app.add_option(Names("--kv-cache-memory"), f->kv_cache_memory, "KV cache budget (e.g. 2GiB)")
          ->capture_default_str();
      app.add_option(Names("--kv-cache-memory-bytes"), f->kv_cache_memory_bytes,
                     "KV cache budget in vLLM's form (e.g. 2G); wins over --kv-cache-memory");
      app.add_option(Names("--api-key"), s.api_keys,
                     "Require 'Authorization: Bearer KEY' (one of the keys; or VLLM_API_KEY)");
      app.add_option(Names("--threads"), m.threads, "Engine threads (default: all cores)");
      app.add_option(Names("--precision"), f->precision,
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
      app.add_option(Names("--seed"), f->seed,
                     "Seed of the random numbers of requests without a seed (default 0; None: "
                     "random)");
      app.add_option(Names("--allowed-origins"), f->allowed_origins,
                     "CORS: JSON list of origins (default [\"*\"])");
      app.add_option(Names("--allowed-methods"), f->allowed_methods,
                     "CORS: JSON list of methods (default [\"*\"])");
      app.add_option(Names("--allowed-headers"), f->allowed_headers,
                     "CORS: JSON list of headers (default [\"*\"])");
      app.add_flag(Names("--allow-credentials"), s.cors.allow_credentials, "CORS: credentials");
      app.add_option(Names("--root-path"), s.root_path,
                     "Path prefix under which every route also answers (behind a proxy)");
      app.add_flag(Names("--enable-request-id-headers"), s.enable_request_id_headers,
                   "Add X-Request-Id to every response");
      app.add_flag(Names("--enable-log-requests") + ",!--no-enable-log-requests", f->log_requests,
                   "Log each request (id, prompt, sampling parameters)");
      app.add_flag(Names("--disable-log-requests") + ",!--no-disable-log-requests",
                   f->disable_log_requests, "Do not log requests (the default)");
      app.add_option(Names("--max-log-len"), m.max_log_len,
                     "Prompt characters and token ids logged per request (default: all)");
      app.add_option(Names("--uvicorn-log-level"), f->uvicorn_log_level,
                     "Access log at info and below: critical|error|warning|info|debug|trace")
          ->capture_default_str();
      app.add_flag(Names("--disable-uvicorn-access-log"), f->disable_access_log,
                   "No access log lines");
      app.add_option(Names("--disable-access-log-for-endpoints"), f->access_log_exclude,
                     "Comma-separated paths left out of the access log (e.g. /health,/metrics)");
      app.add_flag(Names("--enable-prompt-tokens-details"), m.enable_prompt_tokens_details,
                   "usage.prompt_tokens_details.cached_tokens in responses");
      app.add_flag(Names("--enable-force-include-usage"), m.enable_force_include_usage,
                   "Usage in every stream, as if stream_options.include_usage were set");
      app.add_flag(Names("--enable-server-load-tracking"), s.enable_server_load_tracking,
                   "Count generation requests in flight for GET /load");
      app.add_flag(Names("--return-tokens-as-token-ids"), m.return_tokens_as_token_ids,
                   "Logprob tokens as 'token_id:<id>' by default");
      app.add_option(Names("--ssl-certfile"), s.tls_cert_file, "TLS certificate (PEM): HTTPS");
      app.add_option(Names("--ssl-keyfile"), s.tls_key_file, "TLS private key (PEM)");
      app.add_option(Names("--store"), f->store, "Node store for oci:// models");
      f->pull.Add(app, "oci:// pull policy: always | if-not-present | never");
      app.add_option(Names("--pull-retry-max-delay"), f->pull_retry_max_delay,
                     "oci:// pull: cap of the jittered backoff between retries, seconds "
                     "(default 10)");
      AddTableFlags(app, *f);
      CLI::App* appp = &app;
      return [f, appp]() -> Status { return Run(*f, appp->remaining()); };
    }};

}  // namespace
