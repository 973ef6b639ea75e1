// `modelcar serve MODEL`: the OpenAI/vLLM-compatible server (serve/openai_server.h). MODEL is a
// model directory, or oci://REF (pulled into the node store and mounted while the listener
// already answers /health with 503; the only network use of serve). Hub ids are refused: serving
// is offline. A directory that does not exist yet (the modelcar sidecar's /mnt/models link) is
// waited for, /health 503 meanwhile, up to --wait-for-model seconds. MODELCAR_MODEL_IMAGE (set by
// the webhook to the pinned image mounted at /mnt/models) puts that digest in system_fingerprint.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "cli/command.h"
#include "cli/store_pull_flags.h"
#include "http/client.h"
#include "modelcar/mount.h"
#include "serve/model_source.h"
#include "serve/openai_server.h"
#include "store/gc.h"

namespace {

using modelcar::Status;

struct Flags {
  std::string model_pos, model_flag;
  modelcar::serve::ServeOptions serve;
  std::string kv_cache_memory = "2GiB";
  std::string store;
  modelcar::cli::StorePullFlags pull;
  double pull_retry_max_delay = -1;  // seconds; -1: the default
  double wait_for_model = 300;       // seconds a missing model directory is waited for
};

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

Status Run(Flags& f) {
  std::string model = !f.model_flag.empty() ? f.model_flag : f.model_pos;
  if (model.empty())
    return modelcar::InvalidArgument("MODEL (a directory or oci://REF) is required");
  auto& mo = f.serve.model;
  mo.version = MODELCAR_VERSION;
  ASSIGN_OR_RETURN(mo.kv_cache_bytes, modelcar::store::ParseByteSize(f.kv_cache_memory));
  if (const char* k = std::getenv("VLLM_API_KEY"); k && f.serve.api_key.empty())
    f.serve.api_key = k;

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
    if (mo.served_model_name.empty()) {
      std::filesystem::path p = std::filesystem::path(model).lexically_normal();
      if (!p.has_filename()) p = p.parent_path();
      mo.served_model_name = p.filename().string();
      if (mo.served_model_name.empty() || mo.served_model_name == ".") mo.served_model_name = model;
    }
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

const modelcar::cli::CommandRegistration kServe{
    "serve", "Serve a model directory or oci:// image with an OpenAI/vLLM-compatible API",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      auto& s = f->serve;
      app.add_option("model", f->model_pos, "Model directory or oci://REGISTRY/REPO@sha256:...");
      app.add_option("--model", f->model_flag, "Same as the positional MODEL");
      app.add_option("--host", s.host, "Address to listen on")->capture_default_str();
      app.add_option("--port", s.port, "Port (0: any free port)")->capture_default_str();
      app.add_option("--served-model-name", s.model.served_model_name,
                     "Model name in the API (default: the directory or repository name)");
      app.add_option("--max-model-len", s.model.max_model_len,
                     "Context length (default: the model's, capped by the KV cache)");
      app.add_option("--max-num-seqs", s.model.max_num_seqs, "Sequences in the running batch")
          ->capture_default_str();
      app.add_option("--max-num-batched-tokens", s.model.max_num_batched_tokens,
                     "Positions fed per engine step (prefill chunk budget)")
          ->capture_default_str();
      app.add_option("--max-queue", s.model.max_waiting,
                     "Waiting requests beyond which new ones get 503")
          ->capture_default_str();
      app.add_option("--kv-cache-memory", f->kv_cache_memory, "KV cache budget (e.g. 2GiB)")
          ->capture_default_str();
      app.add_option("--api-key", s.api_key,
                     "Require 'Authorization: Bearer KEY' (or VLLM_API_KEY)");
      app.add_option("--threads", s.model.threads, "Engine threads (default: all cores)");
      app.add_option("--idle-timeout", s.idle_timeout_s,
                     "Exit 0 after this many seconds without requests (0: never)");
      app.add_option("--wait-for-model", f->wait_for_model,
                     "Seconds to wait for a model directory that does not exist yet (the "
                     "modelcar sidecar's link), /health 503 meanwhile; 0: fail at once")
          ->capture_default_str();
      app.add_option("--store", f->store, "Node store for oci:// models");
      f->pull.Add(app, "oci:// pull policy: always | if-not-present | never");
      app.add_option("--pull-retry-max-delay", f->pull_retry_max_delay,
                     "oci:// pull: cap of the jittered backoff between retries, seconds "
                     "(default 10)");
      return [f]() -> Status { return Run(*f); };
    }};

}  // namespace
