#include "peer/containerd_hosts.h"

#include <filesystem>
#include <system_error>

#include "base/file.h"

namespace modelcar::peer {
namespace {

namespace fs = std::filesystem;
constexpr std::string_view kBackup = "_backup";

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\r");
  size_t b = s.find_last_not_of(" \t\r");
  return a == s.npos ? "" : std::string(s.substr(a, b - a + 1));
}

std::string DefaultServer(std::string_view registry) {
  if (registry == "docker.io") return "https://registry-1.docker.io";
  return "https://" + std::string(registry);
}

Status FsError(const std::error_code& ec, const std::string& what) {
  return Internal(what + ": " + ec.message());
}

}  // namespace

std::string MirrorHostsToml(std::string_view registry, std::string_view mirror_url,
                            std::string_view previous) {
  std::string server, hosts;
  bool in_tables = false;
  for (size_t pos = 0; pos < previous.size();) {
    size_t nl = previous.find('\n', pos);
    std::string_view raw = previous.substr(pos, nl == previous.npos ? previous.npos : nl - pos);
    pos = nl == previous.npos ? previous.size() : nl + 1;
    std::string line = Trim(raw);
    if (!in_tables && line.starts_with("[")) in_tables = true;
    if (in_tables) {
      hosts.append(raw).append("\n");
    } else if (line.starts_with("server")) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) {
        std::string v = Trim(line.substr(eq + 1));
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
          server = v.substr(1, v.size() - 2);
        }
      }
    }
  }
  if (server.empty()) server = DefaultServer(registry);
  std::string out;
  out += "# Written by modelcar: the node's mirror first (digests only), then the registry.\n";
  out += "# What was here before is kept in ../" + std::string(kBackup) + "/.\n";
  out += "server = \"" + server + "\"\n\n";
  out += "[host.\"" + std::string(mirror_url) + "\"]\n";
  out += "  capabilities = [\"pull\"]\n";
  out += "  dial_timeout = \"200ms\"\n";
  std::string kept = Trim(hosts);
  if (!kept.empty()) out += "\n" + kept + "\n";
  return out;
}

Status WriteMirrorHosts(const std::string& dir, const std::vector<std::string>& registries,
                        const std::string& mirror_url) {
  std::error_code ec;
  RETURN_IF_ERROR(MakeDirs(dir));
  const fs::path backup = fs::path(dir) / kBackup;
  if (!fs::exists(backup, ec)) {
    // Staged under another name and renamed, so a crash never leaves a partial backup in place.
    const fs::path staging = fs::path(dir) / (std::string(kBackup) + ".new");
    fs::remove_all(staging, ec);
    RETURN_IF_ERROR(MakeDirs(staging.string()));
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      if (name == kBackup || name == staging.filename().string()) continue;
      fs::rename(e.path(), staging / name, ec);
      if (ec) return FsError(ec, "back up " + e.path().string());
    }
    fs::rename(staging, backup, ec);
    if (ec) return FsError(ec, "back up " + dir);
  }
  for (const std::string& reg : registries) {
    if (reg.empty() || reg.find('/') != std::string::npos || reg == kBackup || reg[0] == '.') {
      return InvalidArgument("mirror registry \"" + reg + "\": expected HOST[:PORT]");
    }
    const fs::path target = fs::path(dir) / reg;
    const fs::path saved = backup / reg;
    std::string previous;
    if (auto t = ReadFile((saved / "hosts.toml").string(), 1 << 20); t.ok()) previous = *t;
    RETURN_IF_ERROR(MakeDirs(target.string()));
    if (fs::is_directory(saved, ec)) {  // certificates and keys the old file may name
      for (const auto& e : fs::recursive_directory_iterator(saved, ec)) {
        if (!e.is_regular_file() || e.path().filename() == "hosts.toml") continue;
        fs::path to = target / fs::relative(e.path(), saved);
        fs::create_directories(to.parent_path(), ec);
        fs::copy_file(e.path(), to, fs::copy_options::overwrite_existing, ec);
        if (ec) return FsError(ec, "copy " + e.path().string());
      }
    }
    RETURN_IF_ERROR(WriteFileAtomic((target / "hosts.toml").string(),
                                    MirrorHostsToml(reg, mirror_url, previous)));
  }
  return Status();
}

Status RestoreMirrorHosts(const std::string& dir) {
  std::error_code ec;
  const fs::path backup = fs::path(dir) / kBackup;
  if (!fs::is_directory(backup, ec)) return Status();  // never written, or already restored
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().filename() == kBackup) continue;
    fs::remove_all(e.path(), ec);
    if (ec) return FsError(ec, "remove " + e.path().string());
  }
  for (const auto& e : fs::directory_iterator(backup, ec)) {
    fs::rename(e.path(), fs::path(dir) / e.path().filename(), ec);
    if (ec) return FsError(ec, "restore " + e.path().string());
  }
  fs::remove(backup, ec);
  if (ec) return FsError(ec, "remove " + backup.string());
  return Status();
}

}  // namespace modelcar::peer
