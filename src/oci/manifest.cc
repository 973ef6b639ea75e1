#include "oci/manifest.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "oci/media_types.h"

namespace modelcar::oci {

namespace {

using json = nlohmann::json;

// Field readers: each returns InvalidArgument naming `where` + the key on a type mismatch.
Status Err(const std::string& where, const std::string& what) {
  return InvalidArgument(where + ": " + what);
}

Result<std::string> GetString(const json& j, const char* key, const std::string& where,
                              bool required = false) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Err(where, std::string("missing \"") + key + "\"");
    return std::string();
  }
  if (!it->is_string()) return Err(where + "." + key, "must be a string");
  return it->get<std::string>();
}

Result<std::map<std::string, std::string>> GetStringMap(const json& j, const char* key,
                                                        const std::string& where) {
  std::map<std::string, std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) return Err(where + "." + key, "must be an object");
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) return Err(where + "." + key + "." + k, "must be a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

Result<std::vector<std::string>> GetStringList(const json& j, const char* key,
                                               const std::string& where) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_array()) return Err(where + "." + key, "must be an array");
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) {
      return Err(fmt::format("{}.{}[{}]", where, key, i), "must be a string");
    }
    out.push_back((*it)[i].get<std::string>());
  }
  return out;
}

Result<Descriptor> ParseDescriptor(const json& j, const std::string& where) {
  if (!j.is_object()) return Err(where, "must be an object");
  Descriptor d;
  ASSIGN_OR_RETURN(d.media_type, GetString(j, "mediaType", where, true));
  ASSIGN_OR_RETURN(std::string digest, GetString(j, "digest", where, true));
  auto parsed = Digest::Parse(digest);
  if (!parsed.ok()) return Err(where + ".digest", parsed.status().message());
  d.digest = *parsed;
  auto size = j.find("size");
  if (size == j.end()) return Err(where, "missing \"size\"");
  if (!size->is_number_integer()) return Err(where + ".size", "must be an integer");
  d.size = size->get<int64_t>();
  if (d.size < 0) return Err(where + ".size", "must not be negative");
  ASSIGN_OR_RETURN(d.annotations, GetStringMap(j, "annotations", where));
  ASSIGN_OR_RETURN(d.artifact_type, GetString(j, "artifactType", where));
  ASSIGN_OR_RETURN(d.urls, GetStringList(j, "urls", where));
  if (auto p = j.find("platform"); p != j.end() && !p->is_null()) {
    if (!p->is_object()) return Err(where + ".platform", "must be an object");
    Platform plat;
    std::string pw = where + ".platform";
    ASSIGN_OR_RETURN(plat.architecture, GetString(*p, "architecture", pw, true));
    ASSIGN_OR_RETURN(plat.os, GetString(*p, "os", pw, true));
    ASSIGN_OR_RETURN(plat.variant, GetString(*p, "variant", pw));
    ASSIGN_OR_RETURN(plat.os_version, GetString(*p, "os.version", pw));
    d.platform = plat;
  }
  return d;
}

// The required array `key` of descriptors ("layers", "manifests").
Result<std::vector<Descriptor>> GetDescriptorList(const json& j, const char* key,
                                                  const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    return Err(where, std::string("missing \"") + key + "\" array");
  }
  std::vector<Descriptor> out;
  for (size_t i = 0; i < it->size(); ++i) {
    ASSIGN_OR_RETURN(Descriptor d,
                     ParseDescriptor((*it)[i], fmt::format("{}.{}[{}]", where, key, i)));
    out.push_back(std::move(d));
  }
  return out;
}

json DescriptorJson(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.ToString();
  j["size"] = d.size;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (d.platform) {
    json p = json::object();
    p["architecture"] = d.platform->architecture;
    p["os"] = d.platform->os;
    if (!d.platform->variant.empty()) p["variant"] = d.platform->variant;
    if (!d.platform->os_version.empty()) p["os.version"] = d.platform->os_version;
    j["platform"] = p;
  }
  return j;
}

json DescriptorListJson(const std::vector<Descriptor>& list) {
  json j = json::array();
  for (const Descriptor& d : list) j.push_back(DescriptorJson(d));
  return j;
}

Result<json> ParseObject(std::string_view text, const std::string& what) {
  ASSIGN_OR_RETURN(json j, ParseJsonLimited(text, what));  // depth-limited: fetched manifests
  if (!j.is_object()) return InvalidArgument(what + ": must be a JSON object");
  return j;
}

Status CheckSchemaVersion(const json& j, const std::string& where) {
  auto it = j.find("schemaVersion");
  if (it == j.end()) return Err(where, "missing \"schemaVersion\"");
  if (!it->is_number_integer() || it->get<int64_t>() != 2) {
    return Err(where + ".schemaVersion", "must be 2 (schema1 images are not supported)");
  }
  return Status();
}

Status CheckMediaType(const std::string& doc, std::string_view given, const std::string& where) {
  if (!given.empty() && !doc.empty() && doc != given) {
    return Err(where, "mediaType \"" + doc + "\" disagrees with the content type \"" +
                          std::string(given) + "\"");
  }
  return Status();
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

Result<std::string> SniffMediaType(std::string_view text) {
  ASSIGN_OR_RETURN(json j, ParseObject(text, "manifest"));
  return GetString(j, "mediaType", "manifest");
}

Result<Manifest> ParseManifest(std::string_view text, std::string_view media_type) {
  const std::string where = "manifest";
  ASSIGN_OR_RETURN(json j, ParseObject(text, where));
  RETURN_IF_ERROR(CheckSchemaVersion(j, where));
  Manifest m;
  ASSIGN_OR_RETURN(m.media_type, GetString(j, "mediaType", where));
  RETURN_IF_ERROR(CheckMediaType(m.media_type, media_type, where));
  if (m.media_type.empty()) m.media_type = media_type.empty() ? kOciManifest : media_type;
  if (!IsManifestType(m.media_type)) {
    return Err(where + ".mediaType", "\"" + m.media_type + "\" is not an image manifest type");
  }
  if (j.contains("manifests")) return Err(where, "is an index, not an image manifest");
  auto config = j.find("config");
  if (config == j.end()) return Err(where, "missing \"config\"");
  ASSIGN_OR_RETURN(m.config, ParseDescriptor(*config, where + ".config"));
  ASSIGN_OR_RETURN(m.layers, GetDescriptorList(j, "layers", where));
  if (auto s = j.find("subject"); s != j.end() && !s->is_null()) {
    ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(*s, where + ".subject"));
    m.subject = std::move(d);
  }
  ASSIGN_OR_RETURN(m.artifact_type, GetString(j, "artifactType", where));
  ASSIGN_OR_RETURN(m.annotations, GetStringMap(j, "annotations", where));
  return m;
}

std::string SerializeManifest(const Manifest& m) {
  json j = json::object();
  j["schemaVersion"] = m.schema_version;
  if (!m.media_type.empty()) j["mediaType"] = m.media_type;
  if (!m.artifact_type.empty()) j["artifactType"] = m.artifact_type;
  j["config"] = DescriptorJson(m.config);
  j["layers"] = DescriptorListJson(m.layers);
  if (m.subject) j["subject"] = DescriptorJson(*m.subject);
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return Dump(j);
}

Result<Index> ParseIndex(std::string_view text, std::string_view media_type) {
  const std::string where = "index";
  ASSIGN_OR_RETURN(json j, ParseObject(text, where));
  RETURN_IF_ERROR(CheckSchemaVersion(j, where));
  Index index;
  ASSIGN_OR_RETURN(index.media_type, GetString(j, "mediaType", where));
  RETURN_IF_ERROR(CheckMediaType(index.media_type, media_type, where));
  if (index.media_type.empty() && !media_type.empty()) index.media_type = media_type;
  if (!index.media_type.empty() && !IsIndexType(index.media_type)) {
    return Err(where + ".mediaType", "\"" + index.media_type + "\" is not an index type");
  }
  ASSIGN_OR_RETURN(index.manifests, GetDescriptorList(j, "manifests", where));
  ASSIGN_OR_RETURN(index.annotations, GetStringMap(j, "annotations", where));
  return index;
}

std::string SerializeIndex(const Index& index) {
  json j = json::object();
  j["schemaVersion"] = index.schema_version;
  if (!index.media_type.empty()) j["mediaType"] = index.media_type;
  j["manifests"] = DescriptorListJson(index.manifests);
  if (!index.annotations.empty()) j["annotations"] = index.annotations;
  return Dump(j);
}

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  const std::string where = "image config";
  ASSIGN_OR_RETURN(json j, ParseObject(text, where));
  ImageConfig c;
  ASSIGN_OR_RETURN(c.created, GetString(j, "created", where));
  ASSIGN_OR_RETURN(c.author, GetString(j, "author", where));
  ASSIGN_OR_RETURN(c.architecture, GetString(j, "architecture", where));
  ASSIGN_OR_RETURN(c.os, GetString(j, "os", where));
  ASSIGN_OR_RETURN(c.variant, GetString(j, "variant", where));
  if (auto cfg = j.find("config"); cfg != j.end() && !cfg->is_null()) {
    const std::string cw = where + ".config";
    if (!cfg->is_object()) return Err(cw, "must be an object");
    ASSIGN_OR_RETURN(c.user, GetString(*cfg, "User", cw));
    ASSIGN_OR_RETURN(c.env, GetStringList(*cfg, "Env", cw));
    if (auto e = cfg->find("Entrypoint"); e != cfg->end() && !e->is_null()) {
      ASSIGN_OR_RETURN(c.entrypoint, GetStringList(*cfg, "Entrypoint", cw));
    }
    if (auto e = cfg->find("Cmd"); e != cfg->end() && !e->is_null()) {
      ASSIGN_OR_RETURN(c.cmd, GetStringList(*cfg, "Cmd", cw));
    }
    ASSIGN_OR_RETURN(c.working_dir, GetString(*cfg, "WorkingDir", cw));
    ASSIGN_OR_RETURN(c.labels, GetStringMap(*cfg, "Labels", cw));
    ASSIGN_OR_RETURN(c.stop_signal, GetString(*cfg, "StopSignal", cw));
    if (auto p = cfg->find("ExposedPorts"); p != cfg->end() && !p->is_null()) {
      if (!p->is_object()) return Err(cw + ".ExposedPorts", "must be an object");
      for (auto& [k, v] : p->items()) c.exposed_ports.push_back(k);
    }
  }
  if (auto rootfs = j.find("rootfs"); rootfs != j.end() && !rootfs->is_null()) {
    const std::string rw = where + ".rootfs";
    if (!rootfs->is_object()) return Err(rw, "must be an object");
    ASSIGN_OR_RETURN(std::vector<std::string> ids, GetStringList(*rootfs, "diff_ids", rw));
    for (size_t i = 0; i < ids.size(); ++i) {
      auto d = Digest::Parse(ids[i]);
      if (!d.ok()) return Err(fmt::format("{}.diff_ids[{}]", rw, i), d.status().message());
      c.diff_ids.push_back(*d);
    }
  }
  if (auto h = j.find("history"); h != j.end() && !h->is_null()) {
    if (!h->is_array()) return Err(where + ".history", "must be an array");
    for (size_t i = 0; i < h->size(); ++i) {
      const std::string hw = fmt::format("{}.history[{}]", where, i);
      const json& e = (*h)[i];
      if (!e.is_object()) return Err(hw, "must be an object");
      HistoryEntry entry;
      ASSIGN_OR_RETURN(entry.created, GetString(e, "created", hw));
      ASSIGN_OR_RETURN(entry.created_by, GetString(e, "created_by", hw));
      ASSIGN_OR_RETURN(entry.comment, GetString(e, "comment", hw));
      if (auto el = e.find("empty_layer"); el != e.end() && el->is_boolean()) {
        entry.empty_layer = el->get<bool>();
      }
      c.history.push_back(std::move(entry));
    }
  }
  return c;
}

std::string SerializeImageConfig(const ImageConfig& c) {
  json j = json::object();
  if (!c.created.empty()) j["created"] = c.created;
  if (!c.author.empty()) j["author"] = c.author;
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  if (!c.variant.empty()) j["variant"] = c.variant;
  json cfg = json::object();
  if (!c.user.empty()) cfg["User"] = c.user;
  if (!c.env.empty()) cfg["Env"] = c.env;
  if (c.entrypoint) cfg["Entrypoint"] = *c.entrypoint;
  if (c.cmd) cfg["Cmd"] = *c.cmd;
  if (!c.working_dir.empty()) cfg["WorkingDir"] = c.working_dir;
  if (!c.labels.empty()) cfg["Labels"] = c.labels;
  if (!c.stop_signal.empty()) cfg["StopSignal"] = c.stop_signal;
  if (!c.exposed_ports.empty()) {
    json ports = json::object();
    for (const auto& p : c.exposed_ports) ports[p] = json::object();
    cfg["ExposedPorts"] = ports;
  }
  j["config"] = cfg;
  json ids = json::array();
  for (const Digest& d : c.diff_ids) ids.push_back(d.ToString());
  j["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
  if (!c.history.empty()) {
    json h = json::array();
    for (const HistoryEntry& e : c.history) {
      json o = json::object();
      if (!e.created.empty()) o["created"] = e.created;
      if (!e.created_by.empty()) o["created_by"] = e.created_by;
      if (!e.comment.empty()) o["comment"] = e.comment;
      if (e.empty_layer) o["empty_layer"] = true;
      h.push_back(o);
    }
    j["history"] = h;
  }
  return Dump(j);
}

}  // namespace modelcar::oci
