#include "peer/distribution_path.h"

#include <fmt/format.h>

#include <charconv>
#include <vector>

namespace modelcar::peer {
namespace {

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component of a repository name: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool ValidComponent(std::string_view c) {
  if (c.empty() || !IsAlnum(c.front()) || !IsAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (IsAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsAlnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == sep.npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<DistributionPath> ParseDistributionPath(std::string_view path) {
  if (!path.starts_with("/v2/")) return InvalidArgument("not a /v2/ path");
  path.remove_prefix(4);
  std::vector<std::string_view> parts;
  for (size_t pos = 0;;) {
    size_t slash = path.find('/', pos);
    parts.push_back(path.substr(pos, slash == path.npos ? path.npos : slash - pos));
    if (slash == path.npos) break;
    pos = slash + 1;
  }
  if (parts.size() < 3) return InvalidArgument("expected /v2/<name>/(manifests|blobs)/<ref>");
  DistributionPath out;
  std::string_view kind = parts[parts.size() - 2];
  if (kind == "manifests") {
    out.kind = DistributionPath::Kind::kManifest;
  } else if (kind == "blobs") {
    out.kind = DistributionPath::Kind::kBlob;
  } else {
    return InvalidArgument("expected /v2/<name>/(manifests|blobs)/<ref>");
  }
  out.reference = std::string(parts.back());
  if (out.reference.empty() || out.reference.size() > 256) {
    return InvalidArgument("empty or overlong reference");
  }
  for (size_t i = 0; i + 2 < parts.size(); ++i) {
    if (!ValidComponent(parts[i])) return InvalidArgument("invalid repository name");
    out.name += (i ? "/" : "") + std::string(parts[i]);
  }
  if (out.name.size() > 255) return InvalidArgument("repository name too long");
  return out;
}

Result<std::optional<ByteRange>> ParseRange(std::optional<std::string_view> header, uint64_t size) {
  using R = std::optional<ByteRange>;
  if (!header) return R();
  std::string_view h = *header;
  if (!h.starts_with("bytes=")) return R();
  h.remove_prefix(6);
  if (h.find(',') != h.npos) return R();  // several ranges: ignored (a whole answer is valid)
  size_t dash = h.find('-');
  if (dash == h.npos) return R();
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  auto unsatisfiable = [&] {
    return FailedPrecondition(fmt::format("range {} of a {}-byte blob", *header, size));
  };
  if (a.empty()) {  // suffix: the last N bytes
    auto n = ParseU64(b);
    if (!n) return R();
    if (*n == 0 || size == 0) return unsatisfiable();
    uint64_t len = std::min(*n, size);
    return R(ByteRange{size - len, len});
  }
  auto start = ParseU64(a);
  if (!start) return R();
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto e = ParseU64(b);
    if (!e || *e < *start) return R();  // malformed: ignore the header
    last = std::min(*e, last);
  }
  if (*start >= size) return unsatisfiable();
  return R(ByteRange{*start, last - *start + 1});
}

}  // namespace modelcar::peer
