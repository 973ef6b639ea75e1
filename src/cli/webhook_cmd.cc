// `modelcar webhook --port 9443 --tls-cert F --tls-key F [--config F]`: the pod-mutating admission
// webhook (HTTPS only). SIGTERM/SIGINT: not ready, drain in-flight requests, exit 0.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "cli/registry_flags.h"
#include "http/server.h"
#include "kube/webhook.h"
#include "oci/reference.h"
#include "registry/client.h"

namespace {

struct Flags {
  modelcar::kube::WebhookOptions options;
  modelcar::registry::RegistryOptions registry;
};

// digestPolicy resolve: HEAD the tag's manifest and return its digest.
modelcar::kube::DigestResolver MakeResolver(const modelcar::registry::RegistryOptions& opts) {
  return [opts](const std::string& image) -> modelcar::Result<std::string> {
    using namespace modelcar;
    ASSIGN_OR_RETURN(oci::Reference ref, oci::Reference::Parse(image));
    ASSIGN_OR_RETURN(auto client, registry::RegistryClient::Create(ref, opts));
    ASSIGN_OR_RETURN(auto desc, client->HeadManifest(ref.repository(), ref.Identifier()));
    if (!desc) return NotFound("manifest " + ref.ToString() + " not found");
    return desc->digest.ToString();
  };
}

modelcar::Status Run(Flags& f) {
  using namespace modelcar;
  http::ShutdownSignals signals;  // before any thread starts
  f.options.resolver = MakeResolver(f.registry);
  kube::Webhook webhook(f.options);
  RETURN_IF_ERROR(webhook.Start());
  std::fprintf(stderr, "modelcar webhook: serving HTTPS on %s:%d\n", f.options.host.c_str(),
               webhook.port());
  int sig = signals.Wait();
  std::fprintf(stderr, "modelcar webhook: signal %d, draining\n", sig);
  webhook.Stop();
  return Status();
}

const modelcar::cli::CommandRegistration kWebhook{
    "webhook", "Serve the pod-mutating admission webhook (HTTPS)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      auto& o = f->options;
      app.add_option("--host", o.host, "listen address")->capture_default_str();
      app.add_option("--port", o.port, "listen port (0: any)")->capture_default_str();
      app.add_option("--tls-cert", o.tls_cert_file, "PEM certificate (chain); reloaded on change")
          ->required();
      app.add_option("--tls-key", o.tls_key_file, "PEM private key; reloaded on change")
          ->required();
      app.add_option("--config", o.config_path,
                     "inferenceservice-config ConfigMap or storageInitializer JSON; reloaded on "
                     "change");
      app.add_option("--threads", o.threads, "worker threads")->capture_default_str();
      app.add_option("--max-body-bytes", o.max_body_bytes, "larger requests get 413")
          ->capture_default_str();
      app.add_option("--authfile", f->registry.authfile,
                     "registry auth file for digestPolicy resolve (auths, credHelpers, "
                     "credsStore)");
      app.add_option("--registry-ca-file", f->registry.ca_file, "extra CA bundle for registries");
      app.add_flag("--plain-http", f->registry.plain_http, "talk plain HTTP to registries");
      f->registry.identity = modelcar::registry::NodeIdentity::kAuto;
      modelcar::AddRegistryIdentityFlag(app, f->registry);
      return [f]() { return Run(*f); };
    }};

}  // namespace
