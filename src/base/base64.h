// Standard base64 (RFC 4648, with padding) over OpenSSL's EVP block coder: Basic auth and docker
// config "auth" fields, AdmissionReview patches. Pure functions, thread-safe.
#ifndef MODELCAR_BASE_BASE64_H_
#define MODELCAR_BASE_BASE64_H_

#include <optional>
#include <string>
#include <string_view>

namespace modelcar {

std::string Base64Encode(std::string_view data);
// nullopt when `text` is not valid base64 (trailing newlines and spaces are ignored).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace modelcar

#endif  // MODELCAR_BASE_BASE64_H_
