#include "oci/digest.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cstdlib>

namespace modelcar::oci {

namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 80;
  std::string out = "\"";
  out += s.size() > kMax ? std::string(s.substr(0, kMax)) + "..." : std::string(s);
  out += "\"";
  return out;
}

}  // namespace

Result<Digest> Digest::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return InvalidArgument(
        fmt::format("sha256 digest {} must have 64 hex digits, has {}", Quote(hex), hex.size()));
  }
  if (!IsLowerHex(hex)) {
    return InvalidArgument("sha256 digest " + Quote(hex) +
                           " must contain only lowercase hex digits");
  }
  Digest d;
  d.hex_ = std::string(hex);
  return d;
}

Result<Digest> Digest::Parse(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgument("digest " + Quote(s) + " is not of the form sha256:<64 hex digits>");
  }
  std::string_view algo = s.substr(0, colon);
  if (algo != "sha256") {
    return InvalidArgument("digest " + Quote(s) + " uses algorithm \"" + std::string(algo) +
                           "\"; only sha256 is supported");
  }
  return FromHex(s.substr(colon + 1));
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() {
  if (ctx_ != nullptr) EVP_MD_CTX_free(ctx_);
}

Sha256::Sha256(Sha256&& o) noexcept : ctx_(o.ctx_), bytes_(o.bytes_) {
  o.ctx_ = nullptr;
  o.bytes_ = 0;
}

Sha256& Sha256::operator=(Sha256&& o) noexcept {
  if (this != &o) {
    if (ctx_ != nullptr) EVP_MD_CTX_free(ctx_);
    ctx_ = o.ctx_;
    bytes_ = o.bytes_;
    o.ctx_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

void Sha256::Update(std::string_view data) {
  if (data.empty()) return;
  if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) std::abort();
  bytes_ += data.size();
}

Digest Sha256::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, md, &len) != 1 || len != 32) std::abort();
  if (EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
  bytes_ = 0;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (unsigned i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 15];
  }
  return *Digest::FromHex(hex);
}

Digest Sha256Of(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

}  // namespace modelcar::oci
