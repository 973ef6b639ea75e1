#include "image/inspect.h"

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "oci/blob_sink.h"
#include "oci/layout.h"
#include "oci/media_types.h"

namespace modelcar {

namespace {

// Not base's HumanBytes: inspect's listing keeps the two decimals of GiB it has always printed.
std::string Human(uint64_t n) {
  char buf[32];
  if (n >= (uint64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", n / double(uint64_t{1} << 30));
  } else if (n >= (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", n / double(1u << 20));
  } else if (n >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", n / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  }
  return buf;
}

std::string TypeName(char t) {
  switch (t) {
    case '0':
      return "file";
    case '5':
      return "dir";
    case '2':
      return "symlink";
    case '1':
      return "hardlink";
    default:
      return std::string("type ") + t;
  }
}

}  // namespace

Result<Inspection> InspectSource(oci::ImageSource& source, std::string_view tag_or_digest,
                                 std::string image, const LayerLister& list_layer) {
  Result<oci::ResolvedImage> found = oci::ResolveImage(source, tag_or_digest, oci::HostPlatform());
  if (!found.ok()) {  // name the image in errors about its content (e.g. an unknown media type)
    Status s = found.status();
    return s.code() == Code::kInvalidArgument ? s.WithContext(image) : s;
  }
  oci::ResolvedImage resolved = std::move(*found);
  ASSIGN_OR_RETURN(oci::Manifest m,
                   oci::ParseManifest(resolved.manifest.bytes, resolved.manifest.media_type));
  Inspection in;
  in.image = std::move(image);
  in.tag = std::string(tag_or_digest);
  in.manifest = resolved.descriptor;
  in.config_descriptor = m.config;
  ASSIGN_OR_RETURN(std::string config_bytes, oci::ReadBlobVerified(source, m.config));
  ASSIGN_OR_RETURN(in.config, oci::ParseImageConfig(config_bytes));
  in.total_bytes = static_cast<uint64_t>(in.manifest.size + m.config.size);
  for (const oci::Descriptor& d : m.layers) {
    InspectedLayer layer;
    layer.descriptor = d;
    in.total_bytes += static_cast<uint64_t>(d.size);
    if (list_layer && oci::IsUncompressedLayer(d.media_type)) {
      auto entries = list_layer(d);
      if (!entries.ok()) return entries.status().WithContext("layer " + d.digest.ToString());
      layer.entries = std::move(*entries);
      layer.listed = true;
    }
    in.layers.push_back(std::move(layer));
  }
  return in;
}

Result<Inspection> InspectLayout(const std::string& dir, const std::string& tag) {
  ASSIGN_OR_RETURN(auto source, oci::LayoutSource::Open(dir));
  oci::LayoutSource* layout = source.get();
  ASSIGN_OR_RETURN(Inspection in,
                   InspectSource(*source, tag, dir + ":" + tag, [layout](const oci::Descriptor& d) {
                     return tar::ListTarFile(layout->BlobPath(d.digest));
                   }));
  in.layout_dir = dir;
  return in;
}

std::string FormatInspection(const Inspection& in) {
  std::string s;
  auto line = [&](const std::string& l) { s += l + "\n"; };
  line("image     " + in.image);
  line(fmt::format("manifest  {} ({}, {} B)", in.manifest.digest.ToString(), in.manifest.media_type,
                   in.manifest.size));
  std::string facts;  // an artifact's config (helm, ...) has no platform or date
  if (!in.config.os.empty() || !in.config.architecture.empty()) {
    facts = in.config.os + "/" + in.config.architecture;
  }
  if (!in.config.created.empty())
    facts += (facts.empty() ? "" : ", ") + ("created " + in.config.created);
  line("config    " + in.config_descriptor.digest.ToString() + " (" +
       (facts.empty() ? in.config_descriptor.media_type : facts) + ")");
  for (const auto& [k, v] : in.config.labels) line("label     " + k + "=" + v);
  line(fmt::format("layers    {}", in.layers.size()));
  size_t i = 0;
  for (const InspectedLayer& l : in.layers) {
    ++i;
    auto t = l.descriptor.annotations.find(std::string(oci::kAnnotationTitle));
    std::string title = t == l.descriptor.annotations.end() ? "" : "  " + t->second;
    line(fmt::format("  [{}] {}  {}{}", i, l.descriptor.digest.ToString(),
                     Human(static_cast<uint64_t>(l.descriptor.size)), title));
    if (!l.listed) {
      line("      (" + l.descriptor.media_type + ": files not listed)");
      continue;
    }
    size_t links = 0;
    for (const tar::ListedEntry& e : l.entries) {
      if (e.type == '5') continue;
      if (e.type == '2') {
        ++links;
        continue;
      }
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", e.mode);
      std::string extra = e.type == '0' ? Human(e.size) : TypeName(e.type) + " -> " + e.link_target;
      line(fmt::format("      /{}  {}  {} {}:{}", e.path, extra, mode, e.uid, e.gid));
    }
    if (links > 0) line(fmt::format("      (+{} symlinks; --json lists them)", links));
  }
  line(fmt::format("total     {} ({} B)", Human(in.total_bytes), in.total_bytes));
  return s;
}

std::string InspectionJson(const Inspection& in) {
  using json = nlohmann::json;
  json j;
  j["image"] = in.image;
  if (!in.layout_dir.empty()) j["layout"] = in.layout_dir;
  j["tag"] = in.tag;
  j["manifest"] = {{"digest", in.manifest.digest.ToString()},
                   {"size", in.manifest.size},
                   {"mediaType", in.manifest.media_type}};
  j["config"] = {{"digest", in.config_descriptor.digest.ToString()},
                 {"size", in.config_descriptor.size},
                 {"architecture", in.config.architecture},
                 {"os", in.config.os},
                 {"created", in.config.created}};
  j["labels"] = in.config.labels;
  j["layers"] = json::array();
  for (const InspectedLayer& l : in.layers) {
    json lj = {{"digest", l.descriptor.digest.ToString()},
               {"size", l.descriptor.size},
               {"mediaType", l.descriptor.media_type}};
    auto t = l.descriptor.annotations.find(std::string(oci::kAnnotationTitle));
    if (t != l.descriptor.annotations.end()) lj["title"] = t->second;
    if (l.listed) {
      lj["files"] = json::array();
      for (const tar::ListedEntry& e : l.entries) {
        json f = {{"path", "/" + e.path}, {"type", TypeName(e.type)},
                  {"size", e.size},       {"mode", e.mode},
                  {"uid", e.uid},         {"gid", e.gid}};
        if (!e.link_target.empty()) f["link"] = e.link_target;
        lj["files"].push_back(f);
      }
    }
    j["layers"].push_back(lj);
  }
  j["totalSize"] = in.total_bytes;
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace modelcar
