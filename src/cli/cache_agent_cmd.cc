// `modelcar cache-agent --config FILE`: keeps the listed refs present, pinned and verified in the
// node store (node/cache_agent.h), serves /status, /healthz and /metrics, and reconciles every
// --interval seconds or as soon as the config file changes. SIGTERM/SIGINT stop it (exit 0).
// With --mirror it also serves the store as a read-only registry (peer/registry_api.h) on the same
// listener, and with --containerd-hosts it points containerd at that mirror for the
// --mirror-registries (peer/containerd_hosts.h), restoring what was there when it stops.
// With --peer-service it finds the other nodes' mirrors in the Kubernetes API before every
// reconcile (peer/service_peers.h over peer/kube_api.h).
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "cli/command.h"
#include "cli/store_pull_flags.h"
#include "http/server.h"
#include "node/cache_agent.h"
#include "peer/containerd_hosts.h"
#include "peer/kube_api.h"
#include "peer/registry_api.h"
#include "peer/service_peers.h"

namespace {

struct Flags {
  std::string config, store, status, listen;
  int interval_s = 60;
  bool once = false;
  bool mirror = false;
  std::string private_mode = "serve", hosts_dir, mirror_url;
  std::vector<std::string> mirror_registries;
  std::string peer_service, peer_port, node_name;
  modelcar::cli::StorePullFlags pull;
};

void LogLine(std::string_view l) {
  std::fprintf(stderr, "cache-agent: %.*s\n", static_cast<int>(l.size()), l.data());
}

// --peer-service: the peers of each reconcile from the Service's EndpointSlices.
modelcar::Status UsePeerService(const Flags& f, modelcar::CacheAgentOptions& o) {
  if (!f.pull.peers.empty()) {
    return modelcar::InvalidArgument(
        "--peers and --peer-service exclude each other: list the peers, or name the Service "
        "that finds them");
  }
  ASSIGN_OR_RETURN(modelcar::peer::NamespacedName service,
                   modelcar::peer::ParseNamespacedName(f.peer_service, "--peer-service"));
  modelcar::peer::ServicePeersOptions so;
  so.service = f.peer_service;
  so.selection.node_name = f.node_name;
  if (so.selection.node_name.empty()) {
    const char* env = std::getenv("NODE_NAME");
    so.selection.node_name = env == nullptr ? "" : env;
  }
  so.selection.port_name = f.peer_port;
  so.log = LogLine;
  if (so.selection.node_name.empty()) {
    LogLine(
        "--peer-service without NODE_NAME (or --node-name): this node's own endpoint is not "
        "known, so no zone is preferred (its own mirror is still skipped by store id)");
  }
  auto api = std::make_shared<modelcar::peer::KubeApi>(modelcar::peer::InClusterOptions());
  auto peers = std::make_shared<modelcar::peer::ServicePeers>(
      so, [api, service] { return api->ListEndpointSlices(service.ns, service.name); });
  o.find_peers = [peers] { return peers->Refresh(); };
  return modelcar::Status();
}

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
  if (!f.peer_service.empty()) {
    RETURN_IF_ERROR(UsePeerService(f, o));
  } else if (!f.peer_port.empty() || !f.node_name.empty()) {
    return modelcar::InvalidArgument("--peer-port and --node-name need --peer-service");
  }
  modelcar::CacheAgent agent(o);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server's threads start

  std::unique_ptr<modelcar::http::Server> server;
  std::unique_ptr<modelcar::peer::RegistryApi> mirror;
  if (f.mirror && f.listen.empty()) return modelcar::InvalidArgument("--mirror needs --listen");
  if (!f.hosts_dir.empty() && (!f.mirror || f.mirror_registries.empty())) {
    return modelcar::InvalidArgument("--containerd-hosts needs --mirror and --mirror-registries");
  }
  if (f.private_mode != "serve" && f.private_mode != "refuse") {
    return modelcar::InvalidArgument("--private " + f.private_mode + ": expected serve or refuse");
  }
  if (!f.listen.empty()) {
    modelcar::http::ServerOptions so;
    size_t colon = f.listen.rfind(':');
    if (colon == std::string::npos) return modelcar::InvalidArgument("--listen HOST:PORT");
    so.host = f.listen.substr(0, colon);
    so.port = std::atoi(f.listen.c_str() + colon + 1);
    so.threads = f.mirror ? 32 : 2;
    so.max_body_bytes = 0;  // no route (the read-only mirror's neither) takes a body: any is 413
    server = std::make_unique<modelcar::http::Server>(so);
    if (f.mirror) {
      ASSIGN_OR_RETURN(modelcar::store::Store st, modelcar::store::Store::Open(f.store));
      modelcar::peer::RegistryApiOptions ro;
      ro.index.serve_private = f.private_mode == "serve";
      ro.log = [](std::string_view l) { LogLine("mirror: " + std::string(l)); };
      mirror = std::make_unique<modelcar::peer::RegistryApi>(st, ro);
      mirror->Register(*server);
    }
    server->HandleInline("GET", "/healthz", [](const modelcar::http::ServerRequest&) {
      return modelcar::http::ServerResponse::Text(200, "ok\n");
    });
    server->Handle("GET", "/status", [&agent](const modelcar::http::ServerRequest&) {
      return modelcar::http::ServerResponse::Json(200, agent.StatusJson());
    });
    server->Handle("GET", "/metrics",
                   [&agent, &mirror, &server](const modelcar::http::ServerRequest&) {
                     auto r = modelcar::http::ServerResponse::Text(
                         200, agent.Metrics() + (mirror ? mirror->Metrics() : std::string()) +
                                  modelcar::http::ServerStatsText(server->stats()));
                     r.content_type = "text/plain; version=0.0.4";
                     return r;
                   });
    RETURN_IF_ERROR(server->Start());
    std::fprintf(stderr, "cache-agent: serving on %s:%d%s\n", so.host.c_str(), server->port(),
                 mirror ? " (with the registry mirror)" : "");
    if (!f.hosts_dir.empty()) {
      std::string url = f.mirror_url;
      if (url.empty()) {
        std::string host = so.host == "0.0.0.0" || so.host == "::" ? "127.0.0.1" : so.host;
        if (host.find(':') != std::string::npos) host = "[" + host + "]";
        url = fmt::format("http://{}:{}", host, server->port());
      }
      RETURN_IF_ERROR(modelcar::peer::WriteMirrorHosts(f.hosts_dir, f.mirror_registries, url));
      std::fprintf(stderr, "cache-agent: containerd mirror %s written in %s\n", url.c_str(),
                   f.hosts_dir.c_str());
    }
  }
  auto stop = [&]() -> modelcar::Status {
    if (server) server->Stop();
    if (!f.hosts_dir.empty()) {
      RETURN_IF_ERROR(modelcar::peer::RestoreMirrorHosts(f.hosts_dir));
      std::fprintf(stderr, "cache-agent: containerd hosts in %s restored\n", f.hosts_dir.c_str());
    }
    return modelcar::Status();
  };
  for (;;) {
    int64_t seen = MtimeNs(f.config);
    modelcar::Status s = agent.RunOnce();
    if (!s.ok()) std::fprintf(stderr, "cache-agent: %s\n", s.ToString().c_str());
    if (f.once) {
      RETURN_IF_ERROR(stop());
      return s;
    }
    // Wait for the interval, a config change (checked every second) or a stop signal.
    for (int waited = 0; waited < f.interval_s; ++waited) {
      timespec one{1, 0};
      if (sigtimedwait(&set, nullptr, &one) > 0) return stop();
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
      app.add_flag("--mirror", f->mirror,
                   "Also serve the store read-only as a registry on --listen (pinned images)");
      app.add_option("--private", f->private_mode,
                     "serve (default) | refuse: images pulled with registry credentials");
      app.add_option("--containerd-hosts", f->hosts_dir,
                     "containerd hosts dir to point at the mirror (e.g. /etc/containerd/certs.d); "
                     "what was there is backed up and restored on exit");
      app.add_option("--mirror-registries", f->mirror_registries,
                     "Registries (HOST[:PORT]) containerd should ask the mirror first")
          ->delimiter(',');
      app.add_option("--mirror-url", f->mirror_url,
                     "The mirror's URL for containerd (default http://127.0.0.1:PORT of --listen)");
      f->pull.Add(app, "always | if-not-present | never", modelcar::registry::NodeIdentity::kAuto);
      app.add_option("--peer-service", f->peer_service,
                     "[NAMESPACE/]NAME: find the peers (instead of --peers) before every reconcile "
                     "in the EndpointSlices of this headless Service of the agents, read from the "
                     "Kubernetes API with the pod's service account (namespace: the service "
                     "account's); ready endpoints of other nodes, this node's zone first");
      app.add_option("--peer-port", f->peer_port,
                     "The Service port of the peers' mirrors (default: the only port, else the "
                     "one named mirror)");
      app.add_option("--node-name", f->node_name,
                     "This node (default $NODE_NAME, from the downward API's spec.nodeName): its "
                     "own endpoint is left out and gives its zone");
      return [f]() { return Run(*f); };
    }};

}  // namespace
