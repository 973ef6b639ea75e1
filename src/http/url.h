// URL helpers for the HTTP client and its callers: resolution, host, scheme, loopback test and
// redaction for messages.
//
// Pure functions (no I/O); thread-safe.
#ifndef MODELCAR_HTTP_URL_H_
#define MODELCAR_HTTP_URL_H_

#include <string>
#include <string_view>

namespace modelcar::http {

// Resolves `location` (absolute or relative) against `base`. Empty on failure.
std::string ResolveUrl(const std::string& base, const std::string& location);
// "host[:port]" of an absolute URL (lower case, the scheme's default port filled in), empty if
// unparsable.
std::string UrlHost(const std::string& url);
// The lower-case scheme of an absolute URL ("https"), empty when there is none.
std::string UrlScheme(std::string_view url);

// True for exactly "localhost", an IPv4 address in 127.0.0.0/8 and ::1 (bracketed or not; an
// IPv4-mapped ::ffff:127.x.y.z too), with or without ":port". Names that merely start with
// "localhost" or "127." (localhost.example.com, 127.0.0.1.nip.io) are not loopback.
bool IsLoopbackHost(std::string_view host_port);

// `url` fit for a message or a log line: user info removed, a query replaced by "?<redacted>"
// (presigned URLs carry their signature there, upload URLs their state), fragment dropped.
// "https://u:p@h/v2/x?X-Amz-Signature=s" -> "https://h/v2/x?<redacted>". Text that is no URL is
// returned up to its first '?'.
std::string RedactUrl(std::string_view url);

}  // namespace modelcar::http

#endif  // MODELCAR_HTTP_URL_H_
