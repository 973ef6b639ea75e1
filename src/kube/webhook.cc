// Webhook: config reloading, metrics and the HTTP routes around HandleAdmissionReview.
#include "kube/webhook.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <mutex>

#include "base/file.h"
#include "base/log.h"
#include "base/prometheus.h"
#include "http/server.h"
#include "kube/admission.h"

namespace modelcar::kube {
namespace {

constexpr std::array<double, 9> kBuckets = {0.00025, 0.0005, 0.001, 0.002, 0.005,
                                            0.01,    0.05,   0.1,   1.0};
constexpr int kOutcomes = 4;

}  // namespace

struct Webhook::Impl {
  WebhookOptions options;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> ready{false};

  std::mutex config_mu;
  std::shared_ptr<const InjectConfig> config;  // guarded by config_mu
  FileStamp config_stamp;                      // guarded by config_mu
  std::chrono::steady_clock::time_point next_check;
  std::atomic<uint64_t> config_loads{0}, config_errors{0};

  std::atomic<uint64_t> outcomes[kOutcomes] = {};
  std::atomic<uint64_t> buckets[kBuckets.size()] = {};
  std::atomic<uint64_t> latency_count{0}, latency_sum_ns{0};

  Status LoadConfig() {
    if (options.config_path.empty()) {
      std::lock_guard<std::mutex> lock(config_mu);
      config = std::make_shared<InjectConfig>(DefaultInjectConfig());
      config_loads++;
      return Status();
    }
    FileStamp stamp = StampOf(options.config_path);
    ASSIGN_OR_RETURN(InjectConfig c, LoadInjectConfig(options.config_path));
    std::lock_guard<std::mutex> lock(config_mu);
    config = std::make_shared<InjectConfig>(std::move(c));
    config_stamp = stamp;
    config_loads++;
    return Status();
  }

  std::shared_ptr<const InjectConfig> CurrentConfig() {
    auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(config_mu);
      if (options.config_path.empty() || now < next_check) return config;
      next_check = now + std::chrono::seconds(1);
      if (StampOf(options.config_path) == config_stamp) return config;
    }
    Status st = LoadConfig();
    if (!st.ok()) {
      config_errors++;
      LogWarning("modelcar webhook: keeping the previous config: {}", st.ToString());
      std::lock_guard<std::mutex> lock(config_mu);
      config_stamp = StampOf(options.config_path);  // do not retry until it changes again
    }
    std::lock_guard<std::mutex> lock(config_mu);
    return config;
  }

  http::ServerResponse Mutate(const http::ServerRequest& req) {
    auto start = std::chrono::steady_clock::now();
    std::shared_ptr<const InjectConfig> cfg = CurrentConfig();
    AdmissionAnswer a = HandleAdmissionReview(req.body, *cfg, options.resolver);
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    outcomes[static_cast<int>(a.outcome)]++;
    double sec = static_cast<double>(ns) / 1e9;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      if (sec <= kBuckets[i]) buckets[i]++;
    }
    latency_count++;
    latency_sum_ns += static_cast<uint64_t>(ns);
    if (a.outcome == AdmissionOutcome::kBadRequest) return http::ServerResponse::Text(400, a.body);
    return http::ServerResponse::Json(a.http_status, std::move(a.body));
  }

  std::string Metrics() {
    PrometheusText p;
    p.Header("modelcar_webhook_requests_total", "counter",
             "AdmissionReviews answered, by outcome.");
    for (int i = 0; i < kOutcomes; ++i) {
      auto outcome = AdmissionOutcomeName(static_cast<AdmissionOutcome>(i));
      p.Sample("modelcar_webhook_requests_total", PrometheusText::Label("outcome", outcome),
               outcomes[i].load());
    }
    p.Header("modelcar_webhook_request_duration_seconds", "histogram",
             "Time to answer an AdmissionReview.");
    std::array<uint64_t, kBuckets.size()> cumulative;
    for (size_t i = 0; i < kBuckets.size(); ++i) cumulative[i] = buckets[i].load();
    p.Histogram("modelcar_webhook_request_duration_seconds", "", kBuckets, cumulative,
                static_cast<double>(latency_sum_ns.load()) / 1e9, latency_count.load());
    p.Header("modelcar_webhook_config_loads_total", "counter", "");
    p.Sample("modelcar_webhook_config_loads_total", "", config_loads.load());
    p.Header("modelcar_webhook_config_errors_total", "counter", "");
    p.Sample("modelcar_webhook_config_errors_total", "", config_errors.load());
    p.Header("modelcar_webhook_tls_loads_total", "counter", "");
    p.Sample("modelcar_webhook_tls_loads_total", "", server ? server->tls_loads() : 0);
    std::string out = p.Take();
    if (server) out += http::ServerStatsText(server->stats());
    return out;
  }
};

Webhook::Webhook(WebhookOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

Webhook::~Webhook() { Stop(); }

Status Webhook::Start() {
  Impl& w = *impl_;
  if (w.options.tls_cert_file.empty() || w.options.tls_key_file.empty()) {
    return InvalidArgument("the webhook serves HTTPS only: --tls-cert and --tls-key are required");
  }
  RETURN_IF_ERROR(w.LoadConfig());
  http::ServerOptions so;
  so.host = w.options.host;
  so.port = w.options.port;
  so.threads = w.options.threads;
  so.max_body_bytes = w.options.max_body_bytes;
  // Within the pod's 128 Mi: a few bodies being received at once (reviews are far smaller), and
  // the parsed reviews bounded by kAdmissionJsonLimits.
  so.max_body_buffer_bytes = std::max<size_t>(32 << 20, w.options.max_body_bytes);
  so.tls_cert_file = w.options.tls_cert_file;
  so.tls_key_file = w.options.tls_key_file;
  w.server = std::make_unique<http::Server>(so);
  for (const char* path : {"/mutate-pods", "/mutate-models"}) {
    w.server->Handle("POST", path, [&w](const http::ServerRequest& r) { return w.Mutate(r); });
  }
  // Probes and metrics answer on the I/O threads, even when every worker is busy.
  w.server->HandleInline("GET", "/healthz", [](const http::ServerRequest&) {
    return http::ServerResponse::Text(200, "ok\n");
  });
  w.server->HandleInline("GET", "/readyz", [&w](const http::ServerRequest&) {
    return w.ready ? http::ServerResponse::Text(200, "ready\n")
                   : http::ServerResponse::Text(503, "not ready\n");
  });
  w.server->HandleInline("GET", "/metrics", [&w](const http::ServerRequest&) {
    auto r = http::ServerResponse::Text(200, w.Metrics());
    r.content_type = "text/plain; version=0.0.4";
    return r;
  });
  RETURN_IF_ERROR(w.server->Start());
  w.ready = true;
  return Status();
}

int Webhook::port() const { return impl_->server ? impl_->server->port() : 0; }

void Webhook::Stop() {
  impl_->ready = false;
  if (impl_->server) impl_->server->Stop();
}

void Webhook::Wait() {
  if (impl_->server) impl_->server->Wait();
}

}  // namespace modelcar::kube
