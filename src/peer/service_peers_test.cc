#include "peer/service_peers.h"

#include <gtest/gtest.h>

namespace modelcar::peer {
namespace {

using Urls = std::vector<std::string>;

// An EndpointSliceList of ready endpoints "ADDR@NODE@ZONE" on port 8081.
std::string Slices(const std::vector<std::string>& endpoints) {
  std::string eps;
  for (const std::string& e : endpoints) {
    size_t a = e.find('@'), b = e.rfind('@');
    eps += (eps.empty() ? "" : ",") +
           ("{\"addresses\":[\"" + e.substr(0, a) + "\"],\"nodeName\":\"" +
            e.substr(a + 1, b - a - 1) + "\",\"zone\":\"" + e.substr(b + 1) + "\"}");
  }
  return R"({"kind":"EndpointSliceList","items":[{"addressType":"IPv4","endpoints":[)" + eps +
         R"(],"ports":[{"name":"mirror","port":8081}]}]})";
}

class ServicePeersTest : public ::testing::Test {
 protected:
  ServicePeers Make() {
    ServicePeersOptions o;
    o.service = "ns/agents";
    o.selection.node_name = "n1";
    o.log = [this](std::string_view l) { logs_.emplace_back(l); };
    return ServicePeers(o, [this]() { return answer_; });
  }

  Result<std::string> answer_ = Unavailable("connection refused");
  std::vector<std::string> logs_;
};

TEST_F(ServicePeersTest, NoListBeforeTheFirstGoodReadAndTheErrorLoggedOnce) {
  ServicePeers sp = Make();
  for (int i = 0; i < 3; ++i) {
    PeerSnapshot s = sp.Refresh();
    EXPECT_FALSE(s.known);
    EXPECT_EQ(s.peers, Urls{});
    EXPECT_EQ(s.error, "unavailable: connection refused");
  }
  ASSERT_EQ(logs_.size(), 1u);
  EXPECT_EQ(logs_[0],
            "peers from service ns/agents: unavailable: connection refused; pulls use the "
            "registry alone until a read works");
}

TEST_F(ServicePeersTest, FollowsTheSlicesAndKeepsTheLastGoodListWhenAReadFails) {
  ServicePeers sp = Make();
  answer_ = Slices({"10.0.0.1@n1@a", "10.0.0.3@n3@b", "10.0.0.2@n2@a"});
  PeerSnapshot s = sp.Refresh();
  EXPECT_TRUE(s.known);
  EXPECT_EQ(s.peers, (Urls{"http://10.0.0.2:8081", "http://10.0.0.3:8081"}));
  EXPECT_EQ(s.near, 1u);
  EXPECT_EQ(s.zone, "a");
  EXPECT_EQ(s.error, "");
  sp.Refresh();  // unchanged: no new line
  ASSERT_EQ(logs_.size(), 1u);
  EXPECT_EQ(logs_[0],
            "peers from service ns/agents: 2 peers (1 in this node's zone a): "
            "http://10.0.0.2:8081, http://10.0.0.3:8081");

  // A peer leaves, one joins.
  answer_ = Slices({"10.0.0.1@n1@a", "10.0.0.4@n4@b", "10.0.0.2@n2@a"});
  EXPECT_EQ(sp.Refresh().peers, (Urls{"http://10.0.0.2:8081", "http://10.0.0.4:8081"}));
  EXPECT_EQ(logs_.size(), 2u);

  // The API goes down, then answers garbage: the last list stays, each error logged once.
  answer_ = PermissionDenied("HTTP 403");
  for (int i = 0; i < 2; ++i) {
    s = sp.Refresh();
    EXPECT_TRUE(s.known);
    EXPECT_EQ(s.peers, (Urls{"http://10.0.0.2:8081", "http://10.0.0.4:8081"}));
    EXPECT_EQ(s.error, "permission denied: HTTP 403");
  }
  answer_ = std::string("{\"items\": 3}");
  s = sp.Refresh();
  EXPECT_EQ(s.peers.size(), 2u);
  EXPECT_EQ(s.error,
            "invalid argument: EndpointSlices of service ns/agents: items: expected an array");
  ASSERT_EQ(logs_.size(), 4u);
  EXPECT_EQ(logs_[2],
            "peers from service ns/agents: permission denied: HTTP 403; keeping the last list (2 "
            "peers)");

  // It works again with the same endpoints: logged once (the error is over).
  answer_ = Slices({"10.0.0.1@n1@a", "10.0.0.4@n4@b", "10.0.0.2@n2@a"});
  s = sp.Refresh();
  EXPECT_EQ(s.error, "");
  sp.Refresh();
  EXPECT_EQ(logs_.size(), 5u);

  // Every peer gone: an empty list is a good list too.
  answer_ = Slices({"10.0.0.1@n1@a"});
  s = sp.Refresh();
  EXPECT_TRUE(s.known);
  EXPECT_EQ(s.peers, Urls{});
  EXPECT_EQ(logs_.back(), "peers from service ns/agents: 0 peers (0 in this node's zone a)");
}

}  // namespace
}  // namespace modelcar::peer
