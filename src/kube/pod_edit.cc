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

json& AddVolumeIfNotPresent(json& spec, json volume) {
  json& volumes = spec["volumes"];
  if (!volumes.is_array()) volumes = json::array();
  const std::string name = volume.value("name", "");
  for (json& v : volumes) {
    if (v.is_object() && v.value("name", "") == name) return v;
  }
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

std::string ParentDirectory(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

}  // namespace modelcar::kube
