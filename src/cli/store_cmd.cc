// `modelcar store ls | df | gc | rm REF | verify [REF] | pull REF | serve`: the node store.
#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <memory>

#include "cli/command.h"
#include "cli/store_pull_flags.h"
#include "http/server.h"
#include "node/store_pull.h"
#include "peer/registry_api.h"
#include "store/gc.h"
#include "store/lock.h"
#include "store/store.h"
#include "store/verify.h"

namespace {

using modelcar::Status;
namespace st = modelcar::store;

struct Flags {
  std::string store;
  // rm / verify / pull
  std::string ref;
  bool force = false;
  // gc
  std::string max_size;
  double high = 85, low = 80;
  bool no_watermarks = false, keep_unreferenced = false;
  // pull
  modelcar::cli::StorePullFlags pull;
  // serve
  std::string listen, serve_what = "pinned", private_mode = "serve";
  size_t threads = 32;
  CLI::App *ls = nullptr, *df = nullptr, *gc = nullptr, *rm = nullptr, *verify = nullptr,
           *pullc = nullptr, *serve = nullptr;
};

std::string Age(int64_t t) {
  if (t == 0) return "-";
  int64_t d = static_cast<int64_t>(std::time(nullptr)) - t;
  if (d < 120) return fmt::format("{}s ago", d);
  if (d < 7200) return fmt::format("{}m ago", d / 60);
  if (d < 172800) return fmt::format("{}h ago", d / 3600);
  return fmt::format("{}d ago", d / 86400);
}

Status Ls(st::Store& s) {
  ASSIGN_OR_RETURN(auto trees, s.ListTrees());
  ASSIGN_OR_RETURN(auto refs, s.ListRefs());
  std::multimap<modelcar::oci::Digest, std::string> names;
  for (const auto& r : refs) names.emplace(r.digest, r.name);
  std::printf("%-19s %10s %-10s %-6s %s\n", "IMAGE", "SIZE", "LAST USE", "LEASES", "REFS");
  for (const auto& m : trees) {
    auto info = s.ReadTree(m);
    ASSIGN_OR_RETURN(auto leases, s.LiveLeases(m));
    std::string refs_text;
    auto range = names.equal_range(m);
    for (auto it = range.first; it != range.second; ++it) {
      refs_text += (refs_text.empty() ? "" : ", ") + it->second;
    }
    if (s.IsCorrupt(m)) refs_text = "CORRUPT " + refs_text;
    std::printf("sha256:%-12s %10s %-10s %-6zu %s\n", m.hex().substr(0, 12).c_str(),
                st::FormatBytes(info.ok() ? info->bytes : 0).c_str(), Age(s.LastUse(m)).c_str(),
                leases.size(), refs_text.c_str());
  }
  return Status();
}

Status Df(st::Store& s) {
  ASSIGN_OR_RETURN(auto trees, s.ListTrees());
  uint64_t bytes = 0;
  for (const auto& m : trees) bytes += st::DiskUsage(s.TreeDir(m));
  uint64_t ingest = st::DiskUsage(s.root() + "/ingest");
  ASSIGN_OR_RETURN(st::FsUsage fs, st::FilesystemUsage(s.root()));
  std::printf("store       %s\n", s.root().c_str());
  std::printf("images      %zu\n", trees.size());
  std::printf("trees       %s (%llu bytes)\n", st::FormatBytes(bytes).c_str(),
              static_cast<unsigned long long>(bytes));
  std::printf("ingest      %s (%llu bytes, interrupted pulls)\n", st::FormatBytes(ingest).c_str(),
              static_cast<unsigned long long>(ingest));
  std::printf("filesystem  %s total, %s free (%.1f%% used)\n", st::FormatBytes(fs.total).c_str(),
              st::FormatBytes(fs.free).c_str(),
              fs.total
                  ? 100.0 * static_cast<double>(fs.total - fs.free) / static_cast<double>(fs.total)
                  : 0.0);
  return Status();
}

Status Gc(st::Store& s, const Flags& f) {
  st::GcPolicy p;
  if (!f.max_size.empty()) {
    ASSIGN_OR_RETURN(uint64_t m, st::ParseByteSize(f.max_size));
    p.max_size = m;
  }
  p.watermarks = !f.no_watermarks;
  p.high_percent = f.high;
  p.low_percent = f.low;
  p.remove_unreferenced = !f.keep_unreferenced;
  if (p.low_percent > p.high_percent) return modelcar::InvalidArgument("--low is above --high");
  ASSIGN_OR_RETURN(st::GcReport r, st::RunGc(s, p));
  for (const auto& m : r.removed) std::printf("removed %s\n", m.ToString().c_str());
  for (const auto& m : r.skipped_busy)
    std::printf("busy    %s (in use by a pull or mount)\n", m.ToString().c_str());
  std::printf("freed %s\n", st::FormatBytes(r.freed_bytes).c_str());
  return Status();
}

Status Rm(st::Store& s, const Flags& f) {
  ASSIGN_OR_RETURN(auto m, modelcar::ResolveInStore(s, f.ref));
  auto lock = st::FileLock::TryAcquire(s.LockPath(m), st::FileLock::Mode::kExclusive);
  if (!lock.ok()) return modelcar::Unavailable(f.ref + " is being pulled or mounted right now");
  ASSIGN_OR_RETURN(auto leases, s.LiveLeases(m));
  if (!leases.empty() && !f.force) {
    return modelcar::FailedPrecondition(f.ref + " is in use by " + leases[0] +
                                        (leases.size() > 1 ? " and others" : "") +
                                        " (--force removes it anyway)");
  }
  RETURN_IF_ERROR(s.RemoveTree(m));
  std::printf("removed %s\n", m.ToString().c_str());
  return Status();
}

Status Verify(st::Store& s, const Flags& f) {
  std::vector<modelcar::oci::Digest> todo;
  if (!f.ref.empty()) {
    ASSIGN_OR_RETURN(auto m, modelcar::ResolveInStore(s, f.ref));
    todo.push_back(m);
  } else {
    ASSIGN_OR_RETURN(todo, s.ListTrees());
  }
  int bad = 0;
  for (const auto& m : todo) {
    auto lock = st::FileLock::Acquire(s.LockPath(m), st::FileLock::Mode::kShared);
    ASSIGN_OR_RETURN(st::VerifyReport r, st::VerifyTree(s, m));
    if (r.ok()) {
      std::printf("OK      %s (%s re-hashed)\n", m.ToString().c_str(),
                  st::FormatBytes(r.bytes_hashed).c_str());
    } else {
      ++bad;
      std::printf("CORRUPT %s\n", m.ToString().c_str());
      for (const auto& p : r.problems) std::printf("        %s\n", p.c_str());
    }
  }
  if (bad) {
    return modelcar::DataLoss(
        fmt::format("{} image(s) corrupt; marked for repair by the next pull", bad));
  }
  return Status();
}

Status Pull(const Flags& f) {
  ASSIGN_OR_RETURN(modelcar::StorePullOptions o, f.pull.Options(f.store));
  ASSIGN_OR_RETURN(modelcar::StorePullResult r, modelcar::PullToStore(f.ref, o));
  std::fprintf(stderr, "%s: fetched %llu bytes (%llu from peers), resumed %llu bytes%s\n",
               r.pinned.c_str(), static_cast<unsigned long long>(r.fetched_bytes),
               static_cast<unsigned long long>(r.peer_bytes),
               static_cast<unsigned long long>(r.resumed_bytes),
               r.network_used ? "" : " (present in the store: no network)");
  std::printf("%s\n", r.pinned.c_str());
  return Status();
}

// `store serve`: the read-only registry API over the store until SIGTERM or SIGINT.
Status Serve(st::Store& s, const Flags& f) {
  namespace peer = modelcar::peer;
  modelcar::http::ShutdownSignals signals;  // before any thread starts
  peer::RegistryApiOptions o;
  if (f.serve_what != "pinned" && f.serve_what != "all") {
    return modelcar::InvalidArgument("--serve " + f.serve_what + ": expected pinned or all");
  }
  if (f.private_mode != "serve" && f.private_mode != "refuse") {
    return modelcar::InvalidArgument("--private " + f.private_mode + ": expected serve or refuse");
  }
  o.index.pinned_only = f.serve_what == "pinned";
  o.index.serve_private = f.private_mode == "serve";
  o.log = [](std::string_view l) {
    std::fprintf(stderr, "store serve: %.*s\n", static_cast<int>(l.size()), l.data());
  };
  peer::RegistryApi api(s, o);
  modelcar::http::ServerOptions so;
  size_t colon = f.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return modelcar::InvalidArgument("--listen " + f.listen + ": expected HOST:PORT");
  }
  so.host = f.listen.substr(0, colon);
  if (so.host.size() > 2 && so.host.front() == '[' && so.host.back() == ']') {
    so.host = so.host.substr(1, so.host.size() - 2);
  }
  try {
    so.port = std::stoi(f.listen.substr(colon + 1));
  } catch (const std::exception&) {
    return modelcar::InvalidArgument("--listen " + f.listen + ": expected HOST:PORT");
  }
  if (so.port < 0 || so.port > 65535) return modelcar::InvalidArgument("--listen: bad port");
  so.threads = f.threads;
  modelcar::http::Server server(so);
  api.Register(server);
  server.Handle("GET", "/healthz", [](const modelcar::http::ServerRequest&) {
    return modelcar::http::ServerResponse::Text(200, "ok\n");
  });
  server.Handle("GET", "/metrics", [&api](const modelcar::http::ServerRequest&) {
    auto r = modelcar::http::ServerResponse::Text(200, api.Metrics());
    r.content_type = "text/plain; version=0.0.4";
    return r;
  });
  RETURN_IF_ERROR(server.Start());
  std::fprintf(stderr, "store serve: %s on %s:%d (%zu images servable)\n", s.root().c_str(),
               so.host.c_str(), server.port(), api.index().trees());
  for (;;) {
    int sig = signals.Wait();
    if (sig != modelcar::http::ShutdownSignals::kWoken) break;
  }
  server.Stop();
  return Status();
}

const modelcar::cli::CommandRegistration kStore{
    "store", "The node store: ls, df, gc, rm, verify, pull, serve",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("--store", f->store,
                     "Store directory (default $MODELCAR_STORE, "
                     "/var/lib/modelcar as root, ~/.cache/modelcar)");
      app.require_subcommand(1);
      f->ls = app.add_subcommand("ls", "List images: size, last use, leases, refs");
      f->df = app.add_subcommand("df", "Disk usage of the store and its filesystem");
      f->gc = app.add_subcommand("gc", "Remove unused images (unreferenced, LRU to limits)");
      f->gc->add_option("--max-size", f->max_size, "Evict LRU until the store holds at most this");
      f->gc->add_option("--high", f->high, "Start evicting above this % of disk used (85)");
      f->gc->add_option("--low", f->low, "Evict down to this % of disk used (80)");
      f->gc->add_flag("--no-watermarks", f->no_watermarks, "Ignore disk usage watermarks");
      f->gc->add_flag("--keep-unreferenced", f->keep_unreferenced, "Keep images no ref names");
      f->rm = app.add_subcommand("rm", "Remove an image from the store");
      f->rm->add_option("ref", f->ref, "Reference or sha256: digest")->required();
      f->rm->add_flag("--force", f->force, "Remove even if mounted");
      f->verify = app.add_subcommand("verify",
                                     "Re-hash images; corrupt ones are repaired by the next pull");
      f->verify->add_option("ref", f->ref, "Reference or digest (default: every image)");
      f->pullc = app.add_subcommand("pull", "Pull an image into the store (as `pull --store`)");
      f->pullc->add_option("ref", f->ref, "Image reference")->required();
      f->pull.Add(*f->pullc);
      f->serve = app.add_subcommand(
          "serve", "Serve the store read-only as an OCI registry (a mirror for containerd/peers)");
      f->serve->add_option("--listen", f->listen, "HOST:PORT to listen on")->required();
      f->serve->add_option("--serve", f->serve_what,
                           "pinned (default: images a cache agent pinned or a mount uses) | all");
      f->serve->add_option("--private", f->private_mode,
                           "serve (default) | refuse: images pulled with registry credentials");
      f->serve->add_option("--threads", f->threads, "Transfers served at once (default 32)");
      for (CLI::App* sub : {f->ls, f->df, f->gc, f->rm, f->verify, f->pullc, f->serve}) {
        sub->add_option("--store", f->store, "Store directory");
      }
      return [f]() -> Status {
        if (f->pullc->parsed()) return Pull(*f);
        ASSIGN_OR_RETURN(st::Store s, st::Store::Open(f->store));
        if (f->ls->parsed()) return Ls(s);
        if (f->df->parsed()) return Df(s);
        if (f->gc->parsed()) return Gc(s, *f);
        if (f->rm->parsed()) return Rm(s, *f);
        if (f->verify->parsed()) return Verify(s, *f);
        if (f->serve->parsed()) return Serve(s, *f);
        return modelcar::InvalidArgument("store: missing subcommand");
      };
    }};

}  // namespace
