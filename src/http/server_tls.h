// TLS certificate/key pair for the HTTP server that follows its files: installed on an SSL_CTX as
// a certificate callback, it re-checks the files at most once per second during handshakes and
// swaps in the new pair when they changed (cert-manager and kubelet rotate Secret volumes by
// replacing files). A pair that fails to load or does not match keeps the previous one serving.
//
// Internal to the http module (includes OpenSSL types only as opaque pointers).
// Thread safety: Install()'s callback runs on many handshake threads at once; all methods are
// thread-safe.
#ifndef MODELCAR_HTTP_SERVER_TLS_H_
#define MODELCAR_HTTP_SERVER_TLS_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "base/file.h"
#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace modelcar::http {

class TlsCertReloader {
 public:
  TlsCertReloader(std::string cert_file, std::string key_file);
  ~TlsCertReloader();

  // Loads the pair now. Fails with InvalidArgument naming the file when it cannot be read, is not
  // PEM, or the key does not match the certificate.
  Status LoadNow();

  // Configures `ctx` (TLS 1.2 minimum, the certificate callback). Returns false on failure.
  // REQUIRES: this object outlives `ctx`.
  bool Install(SSL_CTX* ctx);

  // Number of successful loads so far.
  uint64_t loads() const { return loads_.load(); }

 private:
  struct Pair;
  static int CertCallback(SSL* ssl, void* arg);
  std::shared_ptr<Pair> Current();  // reloads when due and changed

  const std::string cert_file_;
  const std::string key_file_;
  std::mutex mu_;
  std::shared_ptr<Pair> pair_;                        // guarded by mu_
  FileStamp cert_id_, key_id_;                        // guarded by mu_
  std::chrono::steady_clock::time_point next_check_;  // guarded by mu_
  std::atomic<uint64_t> loads_{0};
};

}  // namespace modelcar::http

#endif  // MODELCAR_HTTP_SERVER_TLS_H_
