// TlsCertReloader: PEM loading with OpenSSL and the per-handshake certificate callback.
#include "http/server_tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <vector>

#include "base/file.h"

namespace modelcar::http {

struct TlsCertReloader::Pair {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  STACK_OF(X509) * chain = nullptr;
  ~Pair() {
    X509_free(cert);
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
  }
};

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no PEM data";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

}  // namespace

TlsCertReloader::TlsCertReloader(std::string cert_file, std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

TlsCertReloader::~TlsCertReloader() = default;

Status TlsCertReloader::LoadNow() {
  FileStamp cert_id = StampOf(cert_file_);
  FileStamp key_id = StampOf(key_file_);
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(cert_file_, 1 << 20));
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_file_, 1 << 20));
  auto pair = std::make_shared<Pair>();
  {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(cert_pem.data(), cert_pem.size()));
    pair->cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (!pair->cert) {
      return InvalidArgument("TLS certificate " + cert_file_ + ": " + OpenSslError());
    }
    pair->chain = sk_X509_new_null();
    while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      sk_X509_push(pair->chain, extra);
    }
    ERR_clear_error();  // the loop ends with a "no start line" error
  }
  {
    std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(key_pem.data(), key_pem.size()));
    pair->key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (!pair->key) return InvalidArgument("TLS key " + key_file_ + ": " + OpenSslError());
  }
  if (X509_check_private_key(pair->cert, pair->key) != 1) {
    ERR_clear_error();
    return InvalidArgument("TLS key " + key_file_ + " does not match certificate " + cert_file_);
  }
  std::lock_guard<std::mutex> lock(mu_);
  pair_ = std::move(pair);
  cert_id_ = cert_id;
  key_id_ = key_id;
  next_check_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  loads_.fetch_add(1);
  return Status();
}

std::shared_ptr<TlsCertReloader::Pair> TlsCertReloader::Current() {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now < next_check_) return pair_;
    next_check_ = now + std::chrono::seconds(1);
    if (StampOf(cert_file_) == cert_id_ && StampOf(key_file_) == key_id_) {
      return pair_;
    }
  }
  // Changed: try the new pair; on failure the old one keeps serving (retried next second).
  (void)LoadNow();
  std::lock_guard<std::mutex> lock(mu_);
  return pair_;
}

int TlsCertReloader::CertCallback(SSL* ssl, void* arg) {
  auto* self = static_cast<TlsCertReloader*>(arg);
  std::shared_ptr<Pair> pair = self->Current();
  if (!pair) return 0;
  return SSL_use_cert_and_key(ssl, pair->cert, pair->key, pair->chain, 1) == 1 ? 1 : 0;
}

bool TlsCertReloader::Install(SSL_CTX* ctx) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_cert_cb(ctx, &TlsCertReloader::CertCallback, this);
  return true;
}

}  // namespace modelcar::http
