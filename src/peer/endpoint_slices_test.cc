#include "peer/endpoint_slices.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace modelcar::peer {
namespace {

using nlohmann::json;
using Urls = std::vector<std::string>;

json Endpoint(const std::string& address, const std::string& node, const std::string& zone = "",
              json conditions = json{{"ready", true}}) {
  json e = {{"addresses", {address}}, {"nodeName", node}, {"conditions", conditions}};
  if (!zone.empty()) e["zone"] = zone;
  e["targetRef"] = {{"kind", "Pod"}, {"name", "agent-" + node}, {"uid", "uid-" + node}};
  return e;
}

json Slice(json endpoints, const std::string& type = "IPv4",
           json ports = json::array({{{"name", "mirror"}, {"port", 8081}, {"protocol", "TCP"}}})) {
  return {{"metadata", {{"name", "agents-x"}}},
          {"addressType", type},
          {"endpoints", std::move(endpoints)},
          {"ports", std::move(ports)}};
}

std::string List(json items) {
  return json({{"kind", "EndpointSliceList"},
               {"apiVersion", "discovery.k8s.io/v1"},
               {"items", std::move(items)}})
      .dump();
}

SlicePeers Peers(const std::string& list, const std::string& node = "n1",
                 const std::string& port = "") {
  auto r = PeersFromEndpointSlices(list, {node, port});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : SlicePeers{};
}

// The error message of a list that must be refused ("" when it was accepted).
std::string Error(const std::string& list, const std::string& port = "") {
  auto r = PeersFromEndpointSlices(list, {"n1", port});
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

TEST(EndpointSlicesTest, ReadyPeersOfOtherNodesInAddressOrder) {
  SlicePeers p = Peers(List({Slice(
      {Endpoint("10.0.0.10", "n3"), Endpoint("10.0.0.9", "n2"), Endpoint("10.0.0.1", "n1")})}));
  EXPECT_EQ(p.peers, (Urls{"http://10.0.0.9:8081", "http://10.0.0.10:8081"}));
  EXPECT_EQ(p.near, 0u);  // this node's endpoint has no zone
  EXPECT_EQ(p.zone, "");
}

TEST(EndpointSlicesTest, ConditionsDecide) {
  json eps = {
      Endpoint("10.0.0.2", "ready"),
      Endpoint("10.0.0.3", "not-ready", "", {{"ready", false}, {"serving", false}}),
      Endpoint("10.0.0.4", "unknown", "", json::object()),  // ready absent: ready
      Endpoint("10.0.0.5", "null", "", {{"ready", nullptr}}),
      // Terminating but still serving: ready is false, so not a peer.
      Endpoint("10.0.0.6", "term", "",
               {{"ready", false}, {"serving", true}, {"terminating", true}}),
      // publishNotReadyAddresses keeps a terminating pod ready: still not a peer.
      Endpoint("10.0.0.7", "term-ready", "", {{"ready", true}, {"terminating", true}}),
  };
  eps.push_back({{"addresses", {"10.0.0.8"}}});  // no conditions at all: ready
  EXPECT_EQ(Peers(List({Slice(eps)})).peers,
            (Urls{"http://10.0.0.2:8081", "http://10.0.0.4:8081", "http://10.0.0.5:8081",
                  "http://10.0.0.8:8081"}));
}

TEST(EndpointSlicesTest, OwnNodeIsLeftOutReadyOrNotAndGivesTheZone) {
  json own = Endpoint("10.0.0.1", "n1", "zone-a", {{"ready", false}});
  SlicePeers p = Peers(List(
      {Slice({own, Endpoint("10.0.0.2", "n2", "zone-b"), Endpoint("10.0.0.3", "n3", "zone-a")})}));
  EXPECT_EQ(p.zone, "zone-a");
  EXPECT_EQ(p.peers, (Urls{"http://10.0.0.3:8081", "http://10.0.0.2:8081"}));
  EXPECT_EQ(p.near, 1u);
  // Without a node name nobody is left out and no zone is known.
  SlicePeers all = Peers(List({Slice({own, Endpoint("10.0.0.2", "n2", "zone-b")})}), "");
  EXPECT_EQ(all.peers, (Urls{"http://10.0.0.2:8081"}));  // own is not ready
  EXPECT_EQ(all.zone, "");
}

TEST(EndpointSlicesTest, SameZoneFirstThenTheOthersEachInOrder) {
  json eps = {Endpoint("10.0.1.9", "b1", "zone-b"), Endpoint("10.0.0.20", "a2", "zone-a"),
              Endpoint("10.0.0.1", "n1", "zone-a"), Endpoint("10.0.2.1", "nz"),
              Endpoint("10.0.0.3", "a1", "zone-a"), Endpoint("10.0.1.2", "b2", "zone-b")};
  SlicePeers p = Peers(List({Slice(eps)}));
  EXPECT_EQ(p.peers, (Urls{"http://10.0.0.3:8081", "http://10.0.0.20:8081", "http://10.0.1.2:8081",
                           "http://10.0.1.9:8081", "http://10.0.2.1:8081"}));
  EXPECT_EQ(p.near, 2u);
  // The order does not depend on the order of the input.
  std::reverse(eps.begin(), eps.end());
  EXPECT_EQ(Peers(List({Slice(eps)})).peers, p.peers);
}

TEST(EndpointSlicesTest, Ipv6InBracketsCanonical) {
  json v6 = Slice({Endpoint("FD00:0:0:0::0A", "n2"), Endpoint("fd00::2", "n3")}, "IPv6");
  EXPECT_EQ(Peers(List({v6})).peers, (Urls{"http://[fd00::2]:8081", "http://[fd00::a]:8081"}));
  // An IPv4 address in an IPv6 slice and the other way round are errors naming the field.
  EXPECT_EQ(Error(List({Slice({Endpoint("10.0.0.2", "n2")}, "IPv6")})),
            "items[0].endpoints[0].addresses[0]: \"10.0.0.2\" is not an IPv6 address");
  EXPECT_EQ(Error(List({Slice({Endpoint("fd00::2", "n2")})})),
            "items[0].endpoints[0].addresses[0]: \"fd00::2\" is not an IPv4 address");
}

TEST(EndpointSlicesTest, APodInTwoSlicesIsOnePeer) {
  // During an update the controller may list a pod in two slices; a dual-stack pod is listed in
  // an IPv4 and an IPv6 slice: one peer each, IPv4 first.
  json a = Slice({Endpoint("10.0.0.2", "n2"), Endpoint("10.0.0.3", "n3")});
  json b = Slice({Endpoint("10.0.0.3", "n3"), Endpoint("10.0.0.4", "n4")});
  json v6 = Slice({Endpoint("fd00::2", "n2"), Endpoint("fd00::5", "n5")}, "IPv6");
  EXPECT_EQ(Peers(List({v6, a, b})).peers, (Urls{"http://10.0.0.2:8081", "http://10.0.0.3:8081",
                                                 "http://10.0.0.4:8081", "http://[fd00::5]:8081"}));
  // Without targetRefs, endpoints are told apart by URL.
  json anon = {{"addresses", {"10.0.0.2"}}};
  EXPECT_EQ(Peers(List({Slice({anon}), Slice({anon})})).peers, (Urls{"http://10.0.0.2:8081"}));
}

TEST(EndpointSlicesTest, PortByNameOrTheOnlyOne) {
  json two = json::array({{{"name", "http"}, {"port", 80}}, {{"name", "mirror"}, {"port", 9000}}});
  json eps = {Endpoint("10.0.0.2", "n2")};
  EXPECT_EQ(Peers(List({Slice(eps, "IPv4", two)})).peers, (Urls{"http://10.0.0.2:9000"}));
  EXPECT_EQ(Peers(List({Slice(eps, "IPv4", two)}), "n1", "http").peers,
            (Urls{"http://10.0.0.2:80"}));
  json only = json::array({{{"port", 7000}}});  // unnamed, the Service's only port
  EXPECT_EQ(Peers(List({Slice(eps, "IPv4", only)})).peers, (Urls{"http://10.0.0.2:7000"}));
  EXPECT_EQ(Error(List({Slice(eps, "IPv4", only)}), "mirror"),
            "items[0].ports: no port named \"mirror\" (the slice has \"\")");
  json other = json::array({{{"name", "a"}, {"port", 1}}, {{"name", "b"}, {"port", 2}}});
  EXPECT_EQ(Error(List({Slice(eps, "IPv4", other)})),
            "items[0].ports: no port named \"mirror\" (the slice has \"a\", \"b\")");
}

TEST(EndpointSlicesTest, MissingOrBadPorts) {
  json eps = {Endpoint("10.0.0.2", "n2")};
  EXPECT_EQ(Error(List({Slice(eps, "IPv4", nullptr)})),
            "items[0].ports: none (the Service declares no port)");
  EXPECT_EQ(Error(List({Slice(eps, "IPv4", json::array())})),
            "items[0].ports: none (the Service declares no port)");
  for (json port : {json(0), json(65536), json("8081"), json(80.5), json(nullptr)}) {
    json ports = json::array({{{"name", "mirror"}, {"port", port}}});
    EXPECT_EQ(Error(List({Slice(eps, "IPv4", ports)})),
              "items[0].ports[0].port: expected a port number 1..65535")
        << port;
  }
  json udp = json::array({{{"name", "mirror"}, {"port", 53}, {"protocol", "UDP"}}});
  EXPECT_EQ(Error(List({Slice(eps, "IPv4", udp)})),
            "items[0].ports[0].protocol: \"UDP\", expected TCP");
  // The placeholder slice of a Service without pods has neither endpoints nor ports; a slice
  // whose only endpoint is this node's needs no port either.
  json placeholder = {{"addressType", "IPv4"}, {"endpoints", nullptr}, {"ports", nullptr}};
  EXPECT_EQ(Peers(List({placeholder})).peers, Urls{});
  EXPECT_EQ(Peers(List({Slice({Endpoint("10.0.0.1", "n1")}, "IPv4", nullptr)})).peers, Urls{});
}

TEST(EndpointSlicesTest, EmptyAndSkippedLists) {
  EXPECT_EQ(Peers(List(json::array())).peers, Urls{});
  EXPECT_EQ(Peers(R"({"kind":"EndpointSliceList","items":null})").peers, Urls{});
  // FQDN slices (made by hand for Services without selectors) are skipped.
  json fqdn = Slice({{{"addresses", {"agent.example.com"}}}}, "FQDN");
  EXPECT_EQ(Peers(List({fqdn, Slice({Endpoint("10.0.0.2", "n2")})})).peers,
            (Urls{"http://10.0.0.2:8081"}));
}

TEST(EndpointSlicesTest, GarbageIsAnErrorNamingTheField) {
  EXPECT_NE(Error("").find("EndpointSlice list"), std::string::npos);
  EXPECT_NE(Error("{\"items\": [").find("EndpointSlice list"), std::string::npos);
  EXPECT_NE(Error(std::string(200, '[')).find("EndpointSlice list"), std::string::npos);
  EXPECT_EQ(Error("[]"), "EndpointSlice list: expected a JSON object");
  EXPECT_EQ(Error(R"({"kind":"Status","status":"Failure"})"),
            "kind: \"Status\", expected EndpointSliceList");
  EXPECT_EQ(Error("{}"), "items: missing");
  EXPECT_EQ(Error(R"({"items":{}})"), "items: expected an array");
  EXPECT_EQ(Error(R"({"items":[1]})"), "items[0]: expected an object");
  EXPECT_EQ(Error(R"({"items":[{"endpoints":[]}]})"),
            "items[0].addressType: expected IPv4, IPv6 or FQDN, got \"\"");
  EXPECT_EQ(Error(R"({"items":[{"addressType":"IPv4","endpoints":{}}]})"),
            "items[0].endpoints: expected an array");
  auto with = [](json ep) { return List({Slice({std::move(ep)})}); };
  EXPECT_EQ(Error(with("x")), "items[0].endpoints[0]: expected an object");
  EXPECT_EQ(Error(with({{"addresses", {"10.0.0.2"}}, {"conditions", {{"ready", "yes"}}}})),
            "items[0].endpoints[0].conditions.ready: expected a boolean");
  EXPECT_EQ(Error(with({{"addresses", {"10.0.0.2"}}, {"conditions", {{"terminating", 1}}}})),
            "items[0].endpoints[0].conditions.terminating: expected a boolean");
  EXPECT_EQ(Error(with({{"addresses", {"10.0.0.2"}}, {"conditions", true}})),
            "items[0].endpoints[0].conditions: expected an object");
  EXPECT_EQ(Error(with({{"addresses", json::array()}})),
            "items[0].endpoints[0].addresses: expected a non-empty array");
  EXPECT_EQ(Error(with(json::object())),
            "items[0].endpoints[0].addresses: expected a non-empty array");
  EXPECT_EQ(Error(with({{"addresses", {7}}})),
            "items[0].endpoints[0].addresses[0]: expected a string");
  EXPECT_EQ(Error(with({{"addresses", {"10.0.0.2"}}, {"nodeName", 3}})),
            "items[0].endpoints[0].nodeName: expected a string");
  EXPECT_EQ(Error(with({{"addresses", {"10.0.0.2"}}, {"zone", json::array()}})),
            "items[0].endpoints[0].zone: expected a string");
  EXPECT_EQ(Error(with({{"addresses", {"10.0.0.2"}}, {"targetRef", "pod"}})),
            "items[0].endpoints[0].targetRef: expected an object");
  EXPECT_EQ(Error(with({{"addresses", {"10.0.0.2:80"}}})),
            "items[0].endpoints[0].addresses[0]: \"10.0.0.2:80\" is not an IPv4 address");
  // Untrusted text in a message is printable and short.
  std::string evil = Error(with({{"addresses", {"\x1b[31m" + std::string(300, 'a')}}}));
  EXPECT_EQ(evil.find('\x1b'), std::string::npos) << evil;
  EXPECT_LT(evil.size(), 200u) << evil;
}

}  // namespace
}  // namespace modelcar::peer
