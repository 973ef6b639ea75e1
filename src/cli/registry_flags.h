// CLI11 flags shared by the registry commands (push, pull, copy, resolve, build --push,
// inspect REF). Included only by src/cli/*_cmd.cc (it pulls in CLI11).
#ifndef MODELCAR_CLI_REGISTRY_FLAGS_H_
#define MODELCAR_CLI_REGISTRY_FLAGS_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "http/client.h"
#include "transfer/resolve.h"

namespace modelcar {

// Adds --registry-identity auto|gce|none (registry/credentials.h: the node's cloud identity for
// Google registries when no other credential matches); its default is r.identity as it is now.
inline void AddRegistryIdentityFlag(CLI::App& app, registry::RegistryOptions& r) {
  using registry::NodeIdentity;
  const char* shown = r.identity == NodeIdentity::kAuto  ? "auto"
                      : r.identity == NodeIdentity::kGce ? "gce"
                                                         : "none";
  app.add_option_function<std::string>(
         "--registry-identity",
         [&r](const std::string& v) { r.identity = *registry::ParseNodeIdentity(v); },
         std::string("Node identity for *.pkg.dev and gcr.io registries when no other credential "
                     "matches: gce (metadata server token; GCE_METADATA_HOST honoured), auto (gce "
                     "on a GCE VM or GKE node), none (default: ") +
             shown + ")")
      ->check(CLI::IsMember({"auto", "gce", "none"}));
}

// Adds the registry access flags every registry-facing command takes: --authfile --ca-file
// --insecure --plain-http --retries --stall-timeout --registry-identity.
inline void AddRegistryFlags(CLI::App& app, registry::RegistryOptions& r) {
  app.add_option("--authfile", r.authfile,
                 "Docker config.json with credentials (default: $REGISTRY_AUTH_FILE, "
                 "$DOCKER_CONFIG/config.json, ~/.docker/config.json)");
  app.add_option("--ca-file", r.ca_file, "Extra CA certificates (PEM) to trust");
  app.add_flag("--insecure", r.insecure,
               "TLS without certificate verification; credentials may also go over plain HTTP");
  app.add_flag("--plain-http", r.plain_http,
               "Plain HTTP (default only for localhost, 127.0.0.0/8 and ::1)");
  app.add_option("--retries", r.retry.max_attempts, "Attempts per request before giving up")
      ->capture_default_str();
  app.add_option("--stall-timeout", r.low_speed_time_s,
                 "Seconds without a byte moving before a transfer counts as stalled and is "
                 "retried (slow but moving transfers are never cut)")
      ->capture_default_str();
  AddRegistryIdentityFlag(app, r);
}

// Validates what AddRegistryFlags set.
inline Status CheckRegistryFlags(const registry::RegistryOptions& r) {
  if (r.retry.max_attempts < 1) return InvalidArgument("--retries must be >= 1");
  if (r.low_speed_time_s < 1) return InvalidArgument("--stall-timeout must be at least 1 second");
  return Status();
}

struct RemoteFlags {
  RemoteOptions options;
  std::string upload_mode = "auto";
  std::string progress = "auto";
  uint64_t part_size_mib = 64;
  uint64_t chunk_size_mib = 64;

  // Adds --authfile --ca-file --insecure --plain-http --require-digest --retries --stall-timeout
  // --registry-identity;
  // with `transfer`, also -j/--jobs --parallel-parts --part-size-mib --upload-mode
  // --chunk-size-mib --progress.
  void Add(CLI::App& app, bool transfer) {
    AddRegistryFlags(app, options.registry);
    app.add_flag("--require-digest", options.require_digest,
                 "Refuse references without @sha256:... (tags can move; see resolve)");
    if (!transfer) return;
    app.add_option("-j,--jobs", options.jobs, "Blobs transferred at once")->capture_default_str();
    app.add_option("--parallel-parts", options.fetch.max_parts,
                   "Ranged parts in flight for one big blob (pull)")
        ->capture_default_str();
    app.add_option("--part-size-mib", part_size_mib, "Size of ranged parts (pull), MiB")
        ->capture_default_str();
    app.add_option("--upload-mode", upload_mode,
                   "auto (monolithic, chunked if refused) | chunked | monolithic")
        ->capture_default_str();
    app.add_option("--chunk-size-mib", chunk_size_mib, "Chunk size of chunked uploads, MiB")
        ->capture_default_str();
    app.add_option("--progress", progress, "auto | tty | plain | json | none")
        ->capture_default_str();
  }
  // Validates the string flags into `options`; installs the Ctrl-C handler.
  Status Finish() {
    ASSIGN_OR_RETURN(options.upload_mode, registry::ParseUploadMode(upload_mode));
    ASSIGN_OR_RETURN(options.progress, ParseProgressMode(progress));
    if (part_size_mib == 0 || chunk_size_mib == 0) {
      return InvalidArgument("--part-size-mib and --chunk-size-mib must be positive");
    }
    if (options.jobs < 1) return InvalidArgument("--jobs must be at least 1");
    RETURN_IF_ERROR(CheckRegistryFlags(options.registry));
    options.fetch.part_size = part_size_mib << 20;
    options.chunk_size = chunk_size_mib << 20;
    http::CancelOnSignals();
    return Status();
  }
};

}  // namespace modelcar

#endif  // MODELCAR_CLI_REGISTRY_FLAGS_H_
