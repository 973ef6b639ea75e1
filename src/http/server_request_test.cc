#include "http/server_request.h"

#include <gtest/gtest.h>

#include <boost/beast/http/error.hpp>

namespace modelcar::http::internal {
namespace {

TEST(DecodeTargetTest, PathAndSortedQuery) {
  ServerRequest r;
  DecodeTarget("/v1/a%2Fb%20c+d?b=2&a=x+y%21&b=1&&flag&=v", &r);
  EXPECT_EQ(r.path, "/v1/a/b c+d");  // '+' is literal in a path
  ASSERT_EQ(r.query.size(), 5u);
  EXPECT_EQ(r.query[0], (std::pair<std::string, std::string>{"", "v"}));
  EXPECT_EQ(r.query[1], (std::pair<std::string, std::string>{"a", "x y!"}));
  EXPECT_EQ(r.query[2], (std::pair<std::string, std::string>{"b", "2"}));  // stable for repeats
  EXPECT_EQ(r.query[3], (std::pair<std::string, std::string>{"b", "1"}));
  EXPECT_EQ(r.query[4], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(PercentDecode("%zz%4", false), "%zz%4");  // invalid escapes stay
}

// Feeds `text` as a read loop would (the parser stops after the header, then takes the body).
void Feed(RequestParser& p, std::string_view text, boost::beast::error_code& ec) {
  while (!text.empty() && !p.is_done()) {
    size_t n = p.put(boost::asio::buffer(text.data(), text.size()), ec);
    if (ec) return;
    text.remove_prefix(n);
  }
}

TEST(RequestParserTest, FillsTheRequestAndEnforcesLimits) {
  auto budget = std::make_shared<BodyBudget>(100);
  RequestParser p(RequestLimits{1024, 3, 10}, budget);
  boost::beast::error_code ec;
  std::string msg = "POST /x?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody";
  Feed(p, msg, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(p.request().method, "POST");
  EXPECT_EQ(p.request().path, "/x");
  EXPECT_EQ(p.request().Query("q"), "1");
  EXPECT_EQ(p.request().Header("content-length"), "4");
  EXPECT_EQ(p.request().body, "body");
  EXPECT_EQ(p.version(), 11);

  RequestParser many(RequestLimits{1024, 3, 10}, budget);
  Feed(many, "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n", ec);
  EXPECT_EQ(ec, boost::beast::http::error::header_limit);
  EXPECT_TRUE(many.TooManyHeaders());

  RequestParser big(RequestLimits{64, 100, 10}, budget);
  Feed(big, "GET / HTTP/1.1\r\nx: " + std::string(100, 'v') + "\r\n\r\n", ec);
  EXPECT_EQ(ec, boost::beast::http::error::header_limit);
  EXPECT_FALSE(big.TooManyHeaders());

  RequestParser body(RequestLimits{1024, 100, 10}, budget);
  Feed(body, "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", ec);
  EXPECT_EQ(ec, boost::beast::http::error::body_limit);  // refused on the header alone
  EXPECT_FALSE(body.OverBudget());
}

TEST(RequestParserTest, BodyBytesComeFromTheBudgetAndGoBack) {
  auto budget = std::make_shared<BodyBudget>(10);
  boost::beast::error_code ec;
  auto first = std::make_unique<RequestParser>(RequestLimits{1024, 100, 100}, budget);
  Feed(*first, "POST / HTTP/1.1\r\nContent-Length: 8\r\n\r\n12345678", ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(budget->used(), 8u);
  std::shared_ptr<BodyHold> hold = first->TakeHold();
  first.reset();
  EXPECT_EQ(budget->used(), 8u);  // held with the body
  RequestParser second(RequestLimits{1024, 100, 100}, budget);
  Feed(second, "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n12345", ec);
  EXPECT_EQ(ec, boost::beast::http::error::body_limit);
  EXPECT_TRUE(second.OverBudget());
  hold.reset();
  EXPECT_EQ(budget->used(), 0u);
}

}  // namespace
}  // namespace modelcar::http::internal
