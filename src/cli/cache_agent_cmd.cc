// `modelcar cache-agent --config FILE`: keeps the listed refs present, pinned and verified in the
// node store (modelcar/cache_agent.h), serves /status, /healthz and /metrics, and reconciles every
// --interval seconds or as soon as the config file changes. SIGTERM/SIGINT stop it (exit 0).
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "cli/command.h"
#include "cli/store_pull_flags.h"
#include "http/server.h"
#include "modelcar/cache_agent.h"

namespace {

struct Flags {
  std::string config, store, status, listen;
  int interval_s = 60;
  bool once = false;
  modelcar::cli::StorePullFlags pull;
};

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

modelcar::Status Run(const Flags& f) {
  modelcar::CacheAgentOptions o;
  o.config_path = f.config;
  o.status_path = f.status;
  ASSIGN_OR_RETURN(o.pull, f.pull.Options(f.store, /*quiet=*/true));
  modelcar::CacheAgent agent(o);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server's threads start

  std::unique_ptr<modelcar::http::Server> server;
  if (!f.listen.empty()) {
    modelcar::http::ServerOptions so;
    size_t colon = f.listen.rfind(':');
    if (colon == std::string::npos) return modelcar::InvalidArgument("--listen HOST:PORT");
    so.host = f.listen.substr(0, colon);
    so.port = std::atoi(f.listen.c_str() + colon + 1);
    so.threads = 2;
    so.max_body_bytes = 0;  // no route takes a body: any is 413
    server = std::make_unique<modelcar::http::Server>(so);
    server->HandleInline("GET", "/healthz", [](const modelcar::http::ServerRequest&) {
      return modelcar::http::ServerResponse::Text(200, "ok\n");
    });
    server->Handle("GET", "/status", [&agent](const modelcar::http::ServerRequest&) {
      return modelcar::http::ServerResponse::Json(200, agent.StatusJson());
    });
    server->Handle("GET", "/metrics", [&agent, &server](const modelcar::http::ServerRequest&) {
      auto r = modelcar::http::ServerResponse::Text(
          200, agent.Metrics() + modelcar::http::ServerStatsText(server->stats()));
      r.content_type = "text/plain; version=0.0.4";
      return r;
    });
    RETURN_IF_ERROR(server->Start());
    std::fprintf(stderr, "cache-agent: serving on %s:%d\n", so.host.c_str(), server->port());
  }
  for (;;) {
    int64_t seen = MtimeNs(f.config);
    modelcar::Status s = agent.RunOnce();
    if (!s.ok()) std::fprintf(stderr, "cache-agent: %s\n", s.ToString().c_str());
    if (f.once) return s;
    // Wait for the interval, a config change (checked every second) or a stop signal.
    for (int waited = 0; waited < f.interval_s; ++waited) {
      timespec one{1, 0};
      if (sigtimedwait(&set, nullptr, &one) > 0) {
        if (server) server->Stop();
        return modelcar::Status();
      }
      if (MtimeNs(f.config) != seen) break;
    }
  }
}

const modelcar::cli::CommandRegistration kCacheAgent{
    "cache-agent", "Keep a list of refs pulled, pinned and verified in the node store (DaemonSet)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("--config", f->config, "Refs to keep: JSON {\"refs\": [...]} or one per line")
          ->required();
      app.add_option("--store", f->store, "Store directory");
      app.add_option("--status", f->status, "Write the status JSON here after every reconcile");
      app.add_option("--listen", f->listen, "Serve /status, /healthz, /metrics on HOST:PORT");
      app.add_option("--interval", f->interval_s, "Seconds between reconciles (default 60)");
      app.add_flag("--once", f->once, "Reconcile once and exit (exit 1 if the config is bad)");
      f->pull.Add(app, "always | if-not-present | never", modelcar::registry::NodeIdentity::kAuto);
      return [f]() { return Run(*f); };
    }};

}  // namespace
