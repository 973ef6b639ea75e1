#include "peer/endpoint_slices.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "base/json.h"

namespace modelcar::peer {
namespace {

using nlohmann::json;

struct Candidate {
  int family = AF_INET;
  std::string address;  // the address's bytes (4 or 16), for the order
  int port = 0;
  std::string url;
  std::string key;   // targetRef.uid, else the URL
  std::string zone;  // the endpoint's zone
  bool near = false;
};

// Untrusted text for a message: printable ASCII, at most 64 bytes.
std::string Quote(std::string_view s) {
  std::string out = PrintableAscii(s.substr(0, 64));
  if (s.size() > 64) out += "...";
  return "\"" + out + "\"";
}

Status Expected(const std::string& path, std::string_view what) {
  return InvalidArgument(path + ": expected " + std::string(what));
}

std::string Join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

// obj[key] when present and not null, else nullptr. `obj` is an object.
const json* Field(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Result<std::string> OptString(const json& obj, const char* key, const std::string& path) {
  const json* v = Field(obj, key);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return Expected(Join(path, key), "a string");
  return v->get<std::string>();
}

Result<std::optional<bool>> OptBool(const json& obj, const char* key, const std::string& path) {
  const json* v = Field(obj, key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_boolean()) return Expected(Join(path, key), "a boolean");
  return std::optional<bool>(v->get<bool>());
}

// The array obj[key]; an empty array when absent or null.
Result<json> OptArray(const json& obj, const char* key, const std::string& path) {
  const json* v = Field(obj, key);
  if (v == nullptr) return json::array();
  if (!v->is_array()) return Expected(Join(path, key), "an array");
  return *v;
}

// The number of the port of `slice` that `want` names (see the header).
Result<int> SlicePort(const json& slice, const std::string& path, const std::string& want) {
  ASSIGN_OR_RETURN(json ports, OptArray(slice, "ports", path));
  if (ports.empty()) return InvalidArgument(path + ".ports: none (the Service declares no port)");
  std::vector<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string ppath = fmt::format("{}.ports[{}]", path, i);
    if (!ports[i].is_object()) return Expected(ppath, "an object");
    ASSIGN_OR_RETURN(std::string name, OptString(ports[i], "name", ppath));
    names.push_back(std::move(name));
  }
  const std::string name = want.empty() ? "mirror" : want;
  size_t at = std::find(names.begin(), names.end(), name) - names.begin();
  if (want.empty() && ports.size() == 1) at = 0;
  if (at == names.size()) {
    std::string have;
    for (const std::string& n : names) have += (have.empty() ? "" : ", ") + Quote(n);
    return InvalidArgument(
        fmt::format("{}.ports: no port named {} (the slice has {})", path, Quote(name), have));
  }
  const std::string ppath = fmt::format("{}.ports[{}]", path, at);
  ASSIGN_OR_RETURN(std::string protocol, OptString(ports[at], "protocol", ppath));
  if (!protocol.empty() && protocol != "TCP") {
    return InvalidArgument(ppath + ".protocol: " + Quote(protocol) + ", expected TCP");
  }
  const json* port = Field(ports[at], "port");
  if (port == nullptr || !port->is_number_integer() || port->get<int64_t>() < 1 ||
      port->get<int64_t>() > 65535) {
    return Expected(ppath + ".port", "a port number 1..65535");
  }
  return static_cast<int>(port->get<int64_t>());
}

// `text` as an address of `family`, canonical and as bytes; InvalidArgument naming `path`.
Status ParseAddress(const std::string& text, int family, const std::string& path, Candidate* c) {
  unsigned char buf[16];
  char canonical[INET6_ADDRSTRLEN];
  if (inet_pton(family, text.c_str(), buf) != 1 ||
      inet_ntop(family, buf, canonical, sizeof(canonical)) == nullptr) {
    return InvalidArgument(fmt::format("{}: {} is not an {} address", path, Quote(text),
                                       family == AF_INET ? "IPv4" : "IPv6"));
  }
  c->family = family;
  c->address.assign(reinterpret_cast<char*>(buf), family == AF_INET ? 4 : 16);
  c->url = family == AF_INET ? fmt::format("http://{}:{}", canonical, c->port)
                             : fmt::format("http://[{}]:{}", canonical, c->port);
  return Status();
}

// The peers one slice contributes (appended to `out`); this node's zone into `*own_zone` when the
// slice holds this node's endpoint and the zone is not known yet.
Status ReadSlice(const json& slice, const std::string& path, const SliceSelection& selection,
                 std::vector<Candidate>* out, std::string* own_zone) {
  if (!slice.is_object()) return Expected(path, "an object");
  ASSIGN_OR_RETURN(std::string type, OptString(slice, "addressType", path));
  if (type == "FQDN") return Status();
  if (type != "IPv4" && type != "IPv6") {
    return Expected(path + ".addressType", "IPv4, IPv6 or FQDN, got " + Quote(type));
  }
  const int family = type == "IPv4" ? AF_INET : AF_INET6;
  ASSIGN_OR_RETURN(json endpoints, OptArray(slice, "endpoints", path));
  int port = 0;  // read at the first endpoint used
  for (size_t j = 0; j < endpoints.size(); ++j) {
    const json& ep = endpoints[j];
    const std::string epath = fmt::format("{}.endpoints[{}]", path, j);
    if (!ep.is_object()) return Expected(epath, "an object");
    ASSIGN_OR_RETURN(std::string node, OptString(ep, "nodeName", epath));
    ASSIGN_OR_RETURN(std::string zone, OptString(ep, "zone", epath));
    if (!selection.node_name.empty() && node == selection.node_name) {
      if (own_zone->empty()) *own_zone = zone;
      continue;
    }
    std::optional<bool> ready, terminating;
    if (const json* cond = Field(ep, "conditions"); cond != nullptr) {
      if (!cond->is_object()) return Expected(epath + ".conditions", "an object");
      ASSIGN_OR_RETURN(ready, OptBool(*cond, "ready", epath + ".conditions"));
      ASSIGN_OR_RETURN(terminating, OptBool(*cond, "terminating", epath + ".conditions"));
    }
    if (ready == false || terminating == true) continue;
    const json* addresses = Field(ep, "addresses");
    if (addresses == nullptr || !addresses->is_array() || addresses->empty()) {
      return Expected(epath + ".addresses", "a non-empty array");
    }
    if (!(*addresses)[0].is_string()) return Expected(epath + ".addresses[0]", "a string");
    if (port == 0) {
      ASSIGN_OR_RETURN(port, SlicePort(slice, path, selection.port_name));
    }
    Candidate c;
    c.port = port;
    c.zone = zone;
    RETURN_IF_ERROR(
        ParseAddress((*addresses)[0].get<std::string>(), family, epath + ".addresses[0]", &c));
    c.key = c.url;
    if (const json* ref = Field(ep, "targetRef"); ref != nullptr) {
      if (!ref->is_object()) return Expected(epath + ".targetRef", "an object");
      ASSIGN_OR_RETURN(std::string uid, OptString(*ref, "uid", epath + ".targetRef"));
      if (!uid.empty()) c.key = "uid:" + uid;
    }
    out->push_back(std::move(c));
  }
  return Status();
}

}  // namespace

Result<SlicePeers> PeersFromEndpointSlices(std::string_view list_json,
                                           const SliceSelection& selection) {
  ASSIGN_OR_RETURN(json doc, ParseJsonLimited(list_json, "EndpointSlice list"));
  if (!doc.is_object()) return InvalidArgument("EndpointSlice list: expected a JSON object");
  ASSIGN_OR_RETURN(std::string kind, OptString(doc, "kind", ""));
  if (!kind.empty() && kind != "EndpointSliceList") {
    return InvalidArgument("kind: " + Quote(kind) + ", expected EndpointSliceList");
  }
  if (!doc.contains("items")) return InvalidArgument("items: missing");
  ASSIGN_OR_RETURN(json items, OptArray(doc, "items", ""));
  SlicePeers result;
  std::vector<Candidate> found;
  for (size_t i = 0; i < items.size(); ++i) {
    RETURN_IF_ERROR(
        ReadSlice(items[i], fmt::format("items[{}]", i), selection, &found, &result.zone));
  }
  for (Candidate& c : found) c.near = !result.zone.empty() && c.zone == result.zone;
  auto order = [](const Candidate& c) {
    return std::tuple<bool, int, const std::string&, int, const std::string&>(
        !c.near, c.family, c.address, c.port, c.key);
  };
  std::sort(found.begin(), found.end(),
            [&](const Candidate& a, const Candidate& b) { return order(a) < order(b); });
  std::set<std::string> keys, urls;
  for (const Candidate& c : found) {
    if (!keys.insert(c.key).second || !urls.insert(c.url).second) continue;
    result.peers.push_back(c.url);
    if (c.near) ++result.near;
  }
  return result;
}

}  // namespace modelcar::peer
