// Pod spec JSON edits.
#include "kube/pod_edit.h"

namespace modelcar::kube {

using nlohmann::json;

json* FindContainer(json& spec, std::string_view name, const char* list) {
  auto it = spec.find(list);
  if (it == spec.end() || !it->is_array()) return nullptr;
  for (json& c : *it) {
    if (c.is_object() && c.value("name", "") == name) return &c;
  }
  return nullptr;
}

const json* FindContainer(const json& spec, std::string_view name, const char* list) {
  return FindContainer(const_cast<json&>(spec), name, list);
}

std::optional<json> RemoveContainer(json& spec, std::string_view name, const char* list) {
  auto it = spec.find(list);
  if (it == spec.end() || !it->is_array()) return std::nullopt;
  for (size_t i = 0; i < it->size(); ++i) {
    json& c = (*it)[i];
    if (c.is_object() && c.value("name", "") == name) {
      json out = std::move(c);
      it->erase(i);
      if (it->empty()) spec.erase(list);  // as Go's omitempty serializes an emptied list
      return out;
    }
  }
  return std::nullopt;
}

void AddOrReplaceEnv(json& container, const std::string& name, const std::string& value) {
  json& env = container["env"];
  if (!env.is_array()) env = json::array();
  for (json& e : env) {
    if (e.is_object() && e.value("name", "") == name) {
      e.erase("valueFrom");
      e["value"] = value;
      return;
    }
  }
  env.push_back({{"name", name}, {"value", value}});
}

std::string GetEnv(const json& container, std::string_view name) {
  auto env = container.find("env");
  if (env == container.end() || !env->is_array()) return "";
  for (const json& e : *env) {
    if (e.is_object() && e.value("name", "") == name) {
      auto v = e.find("value");
      return v != e.end() && v->is_string() ? v->get<std::string>() : "";
    }
  }
  return "";
}

json* FindVolume(json& spec, std::string_view name) {
  auto it = spec.find("volumes");
  if (it == spec.end() || !it->is_array()) return nullptr;
  for (json& v : *it) {
    if (v.is_object() && v.value("name", "") == name) return &v;
  }
  return nullptr;
}

json& AddVolumeIfNotPresent(json& spec, json volume) {
  if (json* v = FindVolume(spec, volume.value("name", ""))) return *v;
  json& volumes = spec["volumes"];
  if (!volumes.is_array()) volumes = json::array();
  volumes.push_back(std::move(volume));
  return volumes.back();
}

void AddVolumeMountIfNotPresent(json& container, const std::string& name,
                                const std::string& mount_path, bool read_only,
                                const std::string& sub_path) {
  json& mounts = container["volumeMounts"];
  if (!mounts.is_array()) mounts = json::array();
  for (const json& m : mounts) {
    if (m.is_object() && m.value("name", "") == name) return;
  }
  json m = {{"name", name}, {"mountPath", mount_path}};
  if (read_only) m["readOnly"] = true;
  if (!sub_path.empty()) m["subPath"] = sub_path;
  mounts.push_back(std::move(m));
}

int RemoveVolumeMounts(json& container, std::string_view name,
                       std::optional<std::string_view> keep_path) {
  auto it = container.find("volumeMounts");
  if (it == container.end() || !it->is_array()) return 0;
  int removed = 0;
  for (size_t i = it->size(); i-- > 0;) {
    const json& m = (*it)[i];
    if (!m.is_object() || m.value("name", "") != name) continue;
    if (keep_path && m.value("mountPath", "") == *keep_path) continue;
    it->erase(i);
    ++removed;
  }
  if (removed > 0 && it->empty()) container.erase("volumeMounts");
  return removed;
}

std::set<std::string> MountedVolumes(const json& container) {
  std::set<std::string> out;
  auto it = container.find("volumeMounts");
  if (it == container.end() || !it->is_array()) return out;
  for (const json& m : *it) {
    if (m.is_object() && m.contains("name") && m["name"].is_string()) out.insert(m["name"]);
  }
  return out;
}

void RemoveUnmountedVolumes(json& spec, const std::set<std::string>& names) {
  std::set<std::string> used;
  for (const char* list : {"containers", "initContainers"}) {
    auto it = spec.find(list);
    if (it == spec.end() || !it->is_array()) continue;
    for (const json& c : *it) {
      if (c.is_object()) used.merge(MountedVolumes(c));
    }
  }
  auto vols = spec.find("volumes");
  if (vols == spec.end() || !vols->is_array()) return;
  bool removed = false;
  for (size_t i = vols->size(); i-- > 0;) {
    const json& v = (*vols)[i];
    std::string name = v.is_object() ? v.value("name", "") : "";
    if (names.count(name) && !used.count(name)) {
      vols->erase(i);
      removed = true;
    }
  }
  if (removed && vols->empty()) spec.erase("volumes");
}

std::string ParentDirectory(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string VolumeNameFromPath(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  std::string out(path);
  for (char& c : out) {
    if (c == '/') c = '-';
  }
  return out;
}

std::string ShellQuote(std::string_view s) {
  if (s.empty()) return "''";
  bool safe = true;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '_' || c == '-';
    safe = safe && ok;
  }
  if (safe) return std::string(s);
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace modelcar::kube
