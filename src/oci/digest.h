// Content digests: the Digest strong type and a streaming SHA-256 on OpenSSL EVP.
//
// modelcar supports one algorithm, sha256, written "sha256:" + 64 lowercase hex digits. A Digest is
// parsed and validated once (Parse/FromHex); afterwards it is always well formed, so code that
// holds one never re-checks it. A default-constructed Digest is empty (empty() is true) and means
// "not known yet"; it is never equal to a real digest.
#ifndef MODELCAR_OCI_DIGEST_H_
#define MODELCAR_OCI_DIGEST_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace modelcar::oci {

class Digest {
 public:
  Digest() = default;  // empty

  // Parses "sha256:<64 lowercase hex>". Other algorithms (sha512, blake3, ...) are rejected with
  // InvalidArgument naming the algorithm; so are uppercase hex and wrong lengths.
  static Result<Digest> Parse(std::string_view s);
  // Builds a digest from 64 lowercase hex digits.
  static Result<Digest> FromHex(std::string_view hex);

  bool empty() const { return hex_.empty(); }
  // 64 lowercase hex digits ("" when empty). The view lives as long as this Digest.
  const std::string& hex() const { return hex_; }
  // "sha256:<hex>" ("" when empty).
  std::string ToString() const { return empty() ? std::string() : "sha256:" + hex_; }
  // The blob path below an OCI layout or a store: "sha256/<hex>".
  std::string RelativePath() const { return "sha256/" + hex_; }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend std::strong_ordering operator<=>(const Digest& a, const Digest& b) {
    return a.hex_ <=> b.hex_;
  }

 private:
  std::string hex_;
};

// Streaming SHA-256. Not thread-safe (one hasher per stream); movable, not copyable.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& o) noexcept;
  Sha256& operator=(Sha256&& o) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  void Update(const void* data, size_t n) {
    Update(std::string_view(static_cast<const char*>(data), n));
  }
  // Bytes passed to Update so far.
  uint64_t bytes() const { return bytes_; }
  // Returns the digest of everything passed to Update and resets the hasher for a new stream.
  Digest Finish();

 private:
  evp_md_ctx_st* ctx_ = nullptr;
  uint64_t bytes_ = 0;
};

// SHA-256 of `data` in one call.
Digest Sha256Of(std::string_view data);

}  // namespace modelcar::oci

template <>
struct std::hash<modelcar::oci::Digest> {
  size_t operator()(const modelcar::oci::Digest& d) const noexcept {
    return std::hash<std::string>()(d.hex());
  }
};

#endif  // MODELCAR_OCI_DIGEST_H_
