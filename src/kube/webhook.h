// The admission webhook server: HTTPS only (http::Server with TLS that follows its cert files).
//
// Routes: POST /mutate-pods and POST /mutate-models (AdmissionReview v1, the same handler: it
// dispatches on the request's kind, see admission.h), GET /healthz (the process
// serves), GET /readyz (config loaded and not draining; 503 otherwise), GET /metrics (Prometheus
// text: requests by outcome, latency histogram, config and TLS reloads).
//
// The config file (optional; DefaultInjectConfig() without one) is re-read when it changes (checked
// at most once per second, on requests): a ConfigMap volume update applies without a restart. A
// changed file that fails to parse keeps the previous config and counts a config error.
//
// Thread safety: Start/Stop from one controlling thread; requests are served concurrently.
#ifndef MODELCAR_KUBE_WEBHOOK_H_
#define MODELCAR_KUBE_WEBHOOK_H_

#include <memory>
#include <string>

#include "base/status.h"
#include "kube/mutate.h"

namespace modelcar::kube {

struct WebhookOptions {
  std::string host = "0.0.0.0";
  int port = 9443;            // 0: any free port (tests)
  std::string tls_cert_file;  // REQUIRED
  std::string tls_key_file;   // REQUIRED
  std::string config_path;    // "" = KServe's default config
  size_t threads = 8;
  size_t max_body_bytes = 4 << 20;  // larger AdmissionReviews get 413
  DigestResolver resolver;          // for digestPolicy resolve (may be empty)
};

class Webhook {
 public:
  explicit Webhook(WebhookOptions options);
  ~Webhook();
  Webhook(const Webhook&) = delete;
  Webhook& operator=(const Webhook&) = delete;

  // Loads the config, binds and serves. InvalidArgument for a bad config or missing TLS files.
  Status Start();
  int port() const;
  // Marks the webhook not ready, lets in-flight requests finish and stops. Idempotent.
  void Stop();
  // Blocks until stopped.
  void Wait();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_WEBHOOK_H_
