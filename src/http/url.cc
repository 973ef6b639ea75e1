#include "http/url.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <cctype>
#include <cstring>

namespace modelcar::http {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string ResolveUrl(const std::string& base, const std::string& location) {
  CURLU* u = curl_url();
  std::string out;
  if (curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, location.c_str(), 0) == CURLUE_OK) {
    char* s = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
      out = s;
      curl_free(s);
    }
  }
  curl_url_cleanup(u);
  return out;
}

std::string UrlHost(const std::string& url) {
  CURLU* u = curl_url();
  std::string out;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK) {
    char* host = nullptr;
    char* port = nullptr;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
      out = Lower(host);
      curl_free(host);
      if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        out += ":" + std::string(port);
        curl_free(port);
      }
    }
  }
  curl_url_cleanup(u);
  return out;
}

std::string UrlScheme(std::string_view url) {
  size_t p = url.find("://");
  if (p == std::string_view::npos || p == 0) return "";
  for (size_t i = 0; i < p; ++i) {
    char c = url[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return "";
  }
  return Lower(url.substr(0, p));
}

bool IsLoopbackHost(std::string_view hp) {
  std::string host;
  if (hp.starts_with("[")) {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view rest = hp.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return false;
    host = std::string(hp.substr(1, close - 1));
  } else if (hp.find(':') != hp.rfind(':')) {
    host = std::string(hp);  // a bare IPv6 address
  } else {
    host = std::string(hp.substr(0, hp.find(':')));
  }
  host = Lower(host);
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::string RedactUrl(std::string_view url) {
  std::string out;
  size_t scheme_end = url.find("://");
  size_t rest = 0;
  if (scheme_end != std::string_view::npos && !UrlScheme(url).empty()) {
    size_t auth_start = scheme_end + 3;
    size_t auth_end = url.find_first_of("/?#", auth_start);
    if (auth_end == std::string_view::npos) auth_end = url.size();
    std::string_view authority = url.substr(auth_start, auth_end - auth_start);
    if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
      authority.remove_prefix(at + 1);
    }
    out = std::string(url.substr(0, auth_start)) + std::string(authority);
    rest = auth_end;
  }
  size_t q = url.find_first_of("?#", rest);
  out += url.substr(rest, q == std::string_view::npos ? std::string_view::npos : q - rest);
  if (q != std::string_view::npos && url[q] == '?' && q + 1 < url.size() && url[q + 1] != '#') {
    out += "?<redacted>";
  }
  return out;
}

}  // namespace modelcar::http
