#include "oci/reference.h"

#include <cctype>

namespace modelcar::oci {

namespace {

constexpr std::string_view kDockerHub = "docker.io";

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One repository path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
Status CheckComponent(std::string_view c, std::string_view ref) {
  auto bad = [&](std::string why) {
    return InvalidArgument("invalid image reference \"" + std::string(ref) + "\": repository " +
                           "component \"" + std::string(c) + "\" " + why);
  };
  if (c.empty()) return bad("is empty");
  for (char ch : c) {
    if (ch >= 'A' && ch <= 'Z') return bad("must be lowercase");
  }
  if (!IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) {
    return bad("must start and end with a lowercase letter or digit");
  }
  for (size_t i = 0; i < c.size();) {
    char ch = c[i];
    if (IsLowerAlnum(ch)) {
      ++i;
      continue;
    }
    if (ch == '.') {
      if (!IsLowerAlnum(c[i + 1])) return bad("has a separator not followed by a letter or digit");
      ++i;
    } else if (ch == '_') {
      size_t n = (c[i + 1] == '_') ? 2 : 1;
      if (!IsLowerAlnum(c[i + n])) return bad("has a separator not followed by a letter or digit");
      i += n;
    } else if (ch == '-') {
      while (c[i] == '-') ++i;
      if (!IsLowerAlnum(c[i])) return bad("has a separator not followed by a letter or digit");
    } else {
      return bad("contains '" + std::string(1, ch) + "'");
    }
  }
  return Status();
}

Status CheckHost(std::string_view host, std::string_view ref) {
  auto bad = [&](std::string why) {
    return InvalidArgument("invalid image reference \"" + std::string(ref) + "\": registry \"" +
                           std::string(host) + "\" " + why);
  };
  std::string_view name = host;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {  // [IPv6]:port
    size_t close = host.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed '['");
    for (char c : host.substr(1, close - 1)) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        return bad("is not a valid IPv6 address");
      }
    }
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("has junk after ']'");
      port = rest.substr(1);
      if (port.empty()) return bad("has an empty port");
    }
    name = {};
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (port.empty()) return bad("has an empty port");
  }
  for (char c : port) {
    if (c < '0' || c > '9') return bad("has a non-numeric port");
  }
  if (!port.empty() && (port.size() > 5 || std::stoi(std::string(port)) > 65535)) {
    return bad("has a port out of range");
  }
  if (host.front() != '[') {
    if (name.empty()) return bad("has an empty host name");
    for (char c : name) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
        return bad("contains '" + std::string(1, c) + "'");
      }
    }
    if (name.front() == '-' || name.back() == '-' || name.front() == '.' || name.back() == '.') {
      return bad("must start and end with a letter or digit");
    }
  }
  return Status();
}

}  // namespace

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(tag.front())) return false;
  for (char c : tag) {
    if (!(word(c) || c == '.' || c == '-')) return false;
  }
  return true;
}

Result<Reference> Reference::Parse(std::string_view input) {
  std::string_view s = input;
  if (s.starts_with("oci://")) s.remove_prefix(6);
  auto bad = [&](std::string why) {
    return InvalidArgument("invalid image reference \"" + std::string(input) + "\": " + why);
  };
  if (s.empty()) return bad("it is empty");
  if (s.find("://") != std::string_view::npos) {
    return bad("only the oci:// scheme is accepted (or none)");
  }
  Reference r;
  if (size_t at = s.find('@'); at != std::string_view::npos) {
    auto d = Digest::Parse(s.substr(at + 1));
    if (!d.ok()) return bad(d.status().message());
    r.digest_ = *d;
    s = s.substr(0, at);
  }
  // A tag follows the last ':' that comes after the last '/'.
  size_t last_slash = s.rfind('/');
  size_t colon = s.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = s.substr(colon + 1);
    if (!IsValidTag(tag)) {
      return bad("tag \"" + std::string(tag) + "\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
    r.tag_ = std::string(tag);
    s = s.substr(0, colon);
  }
  if (s.empty()) return bad("the repository name is empty");
  std::string_view repo = s;
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = s.substr(0, slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      RETURN_IF_ERROR(CheckHost(first, input));
      r.registry_ = std::string(first);
      repo = s.substr(slash + 1);
    }
  }
  if (r.registry_.empty() || r.registry_ == "index.docker.io") r.registry_ = kDockerHub;
  if (repo.empty()) return bad("the repository name is empty");
  for (size_t pos = 0;;) {
    size_t next = repo.find('/', pos);
    RETURN_IF_ERROR(CheckComponent(
        repo.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos),
        input));
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  r.repository_ = std::string(repo);
  if (r.registry_ == kDockerHub && r.repository_.find('/') == std::string::npos) {
    r.repository_ = "library/" + r.repository_;
  }
  if (r.registry_.size() + 1 + r.repository_.size() > 255) {
    return bad("the name is longer than 255 characters");
  }
  return r;
}

std::string Reference::ApiHost() const {
  return registry_ == kDockerHub ? std::string("registry-1.docker.io") : registry_;
}

std::string Reference::Identifier() const {
  if (has_digest()) return digest_.ToString();
  return tag_.empty() ? std::string("latest") : tag_;
}

std::string Reference::ToString() const {
  std::string s = Name();
  if (!tag_.empty()) s += ":" + tag_;
  if (has_digest()) s += "@" + digest_.ToString();
  if (tag_.empty() && !has_digest()) s += ":latest";
  return s;
}

std::string Reference::Pinned(const Digest& digest) const {
  return Name() + "@" + digest.ToString();
}

}  // namespace modelcar::oci
