#include "registry/client.h"

#include <gtest/gtest.h>

namespace modelcar::registry {
namespace {

std::string BaseUrl(const std::string& ref, RegistryOptions o = {}) {
  auto r = oci::Reference::Parse(ref);
  EXPECT_TRUE(r.ok()) << ref;
  auto c = RegistryClient::Create(*r, o);
  return c.ok() ? (*c)->base_url() : c.status().ToString();
}

// Plain HTTP by default only for loopback registries, matched exactly.
TEST(RegistryClientTest, PlainHttpOnlyForExactLoopback) {
  EXPECT_EQ(BaseUrl("localhost:5000/a/b:v1"), "http://localhost:5000");
  EXPECT_EQ(BaseUrl("127.0.0.1:5000/a/b:v1"), "http://127.0.0.1:5000");
  EXPECT_EQ(BaseUrl("localhost.example.com:5000/a/b:v1"), "https://localhost.example.com:5000");
  EXPECT_EQ(BaseUrl("127.0.0.1.nip.io:5000/a/b:v1"), "https://127.0.0.1.nip.io:5000");
  RegistryOptions tls;
  tls.insecure = true;
  EXPECT_EQ(BaseUrl("127.0.0.1:5000/a/b:v1", tls), "https://127.0.0.1:5000");
  RegistryOptions plain;
  plain.plain_http = true;
  EXPECT_EQ(BaseUrl("registry.example.com/a/b:v1", plain), "http://registry.example.com");
}

}  // namespace
}  // namespace modelcar::registry
