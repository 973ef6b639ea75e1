#include "serve/cors.h"

#include <gtest/gtest.h>

namespace modelcar::serve {
namespace {

std::string H(const http::ServerResponse& r, std::string_view name) {
  auto v = http::FindHeader(r.headers, name);
  return v ? std::string(*v) : "<none>";
}

http::ServerRequest Req(std::string method, http::Headers headers) {
  http::ServerRequest r;
  r.method = std::move(method);
  r.path = "/v1/models";
  r.headers = std::move(headers);
  return r;
}

TEST(Cors, DefaultsAllowEveryOrigin) {
  CorsPolicy p;
  http::ServerResponse resp;
  AddCorsHeaders(p, Req("GET", {{"Origin", "https://a.example"}}), &resp);
  EXPECT_EQ(H(resp, "Access-Control-Allow-Origin"), "*");
  http::ServerResponse none;
  AddCorsHeaders(p, Req("GET", {}), &none);
  EXPECT_TRUE(none.headers.empty());

  auto pre = Req("OPTIONS", {{"Origin", "https://a.example"},
                             {"Access-Control-Request-Method", "POST"},
                             {"Access-Control-Request-Headers", "authorization, x-custom"}});
  ASSERT_TRUE(IsPreflight(pre));
  http::ServerResponse r = PreflightResponse(p, pre);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OK");
  EXPECT_EQ(H(r, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(H(r, "Access-Control-Allow-Headers"), "authorization, x-custom");
  EXPECT_EQ(H(r, "Access-Control-Max-Age"), "600");
  EXPECT_FALSE(IsPreflight(Req("OPTIONS", {{"Origin", "x"}})));
}

TEST(Cors, RestrictedOriginsMethodsAndHeaders) {
  CorsPolicy p;
  p.allowed_origins = {"https://ok.example"};
  p.allowed_methods = {"POST"};
  p.allowed_headers = {"Authorization"};
  p.allow_credentials = true;
  http::ServerResponse ok;
  AddCorsHeaders(p, Req("POST", {{"Origin", "https://ok.example"}}), &ok);
  EXPECT_EQ(H(ok, "Access-Control-Allow-Origin"), "https://ok.example");
  EXPECT_EQ(H(ok, "Vary"), "Origin");
  EXPECT_EQ(H(ok, "Access-Control-Allow-Credentials"), "true");
  http::ServerResponse other;
  AddCorsHeaders(p, Req("POST", {{"Origin", "https://evil.example"}}), &other);
  EXPECT_EQ(H(other, "Access-Control-Allow-Origin"), "<none>");

  auto bad = PreflightResponse(p, Req("OPTIONS", {{"Origin", "https://evil.example"},
                                                  {"Access-Control-Request-Method", "DELETE"},
                                                  {"Access-Control-Request-Headers", "x-y"}}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, "Disallowed CORS origin, method, headers");
  auto good = PreflightResponse(
      p, Req("OPTIONS", {{"Origin", "https://ok.example"},
                         {"Access-Control-Request-Method", "POST"},
                         {"Access-Control-Request-Headers", "Authorization, Content-Type"}}));
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(H(good, "Access-Control-Allow-Methods"), "POST");
}

}  // namespace
}  // namespace modelcar::serve
