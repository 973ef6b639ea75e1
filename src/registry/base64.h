// Standard base64 (RFC 4648, with padding) for Basic auth and docker config "auth" fields.
#ifndef MODELCAR_REGISTRY_BASE64_H_
#define MODELCAR_REGISTRY_BASE64_H_

#include <optional>
#include <string>
#include <string_view>

namespace modelcar::registry {

std::string Base64Encode(std::string_view data);
// nullopt when `text` is not valid base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_BASE64_H_
