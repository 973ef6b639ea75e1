// The cache agent's peers: asked before every reconcile, shown in the status and the metrics.
// (Pulls with peers run against real mirrors in tests/peer/kube_peers_test.sh.)
#include "node/cache_agent.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/temp_dir.h"

namespace modelcar {
namespace {

using nlohmann::json;

class CacheAgentPeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteFileAtomic(tmp_.path() + "/refs.txt", "# no refs\n").ok());
    options_.config_path = tmp_.path() + "/refs.txt";
    options_.pull.store_dir = tmp_.path() + "/store";
  }

  TempDir tmp_{"cache-agent-test"};
  CacheAgentOptions options_;
};

TEST_F(CacheAgentPeersTest, FoundPeersAreAskedBeforeEveryReconcile) {
  std::vector<peer::PeerSnapshot> answers(3);
  answers[0].error = "unavailable: API down";
  answers[1].peers = {"http://10.0.0.2:8081", "http://10.0.0.3:8081"};
  answers[1].near = 1;
  answers[1].zone = "a";
  answers[1].known = true;
  answers[2] = answers[1];
  answers[2].error = "permission denied: HTTP 403";
  size_t calls = 0;
  options_.find_peers = [&] { return answers[std::min(calls++, answers.size() - 1)]; };
  CacheAgent agent(options_);

  ASSERT_TRUE(agent.RunOnce().ok());
  json s = json::parse(agent.StatusJson());
  EXPECT_EQ(s["peers"]["count"], 0);
  EXPECT_EQ(s["peers"]["known"], false);
  EXPECT_EQ(s["peers"]["error"], "unavailable: API down");

  ASSERT_TRUE(agent.RunOnce().ok());
  s = json::parse(agent.StatusJson());
  EXPECT_EQ(s["peers"]["count"], 2);
  EXPECT_EQ(s["peers"]["near"], 1);
  EXPECT_EQ(s["peers"]["zone"], "a");
  EXPECT_EQ(s["peers"]["urls"], json({"http://10.0.0.2:8081", "http://10.0.0.3:8081"}));
  EXPECT_EQ(s["peers"]["error"], "");

  ASSERT_TRUE(agent.RunOnce().ok());
  EXPECT_EQ(calls, 3u);
  s = json::parse(agent.StatusJson());
  EXPECT_EQ(s["peers"]["count"], 2);
  EXPECT_EQ(s["peers"]["error"], "permission denied: HTTP 403");
  const std::string m = agent.Metrics();
  EXPECT_NE(m.find("\nmodelcar_cache_peers 2\n"), std::string::npos) << m;
  EXPECT_NE(m.find("\nmodelcar_cache_peer_read_failures_total 2\n"), std::string::npos) << m;
}

TEST_F(CacheAgentPeersTest, FixedPeersWithoutFinder) {
  options_.pull.peers = {"http://10.0.0.9:8081"};
  CacheAgent agent(options_);
  ASSERT_TRUE(agent.RunOnce().ok());
  json s = json::parse(agent.StatusJson());
  EXPECT_EQ(s["peers"]["urls"], json({"http://10.0.0.9:8081"}));
  EXPECT_EQ(s["peers"]["known"], true);
  EXPECT_NE(agent.Metrics().find("\nmodelcar_cache_peers 1\n"), std::string::npos);
}

}  // namespace
}  // namespace modelcar
