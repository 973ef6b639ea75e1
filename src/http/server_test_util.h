// Raw-socket helpers for the http::Server tests: what a hostile or unusual client sends is written
// byte by byte, without a client library tidying it up.
#ifndef MODELCAR_HTTP_SERVER_TEST_UTIL_H_
#define MODELCAR_HTTP_SERVER_TEST_UTIL_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace modelcar::http::testing {

// A loopback connection whose reads give up after `recv_timeout_s` (so a test fails, not hangs;
// 0: reads block). `recv_buffer` > 0 sets SO_RCVBUF before connecting, which fixes the TCP window
// the server sees (a client too slow to read). -1 when the connection fails.
inline int Connect(int port, int recv_timeout_s = 20, int recv_buffer = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (recv_buffer > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &recv_buffer, sizeof(recv_buffer));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  if (recv_timeout_s > 0) {
    timeval tv{recv_timeout_s, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  return fd;
}

inline bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads one response: the head, then Content-Length bytes (or until close without one; a 1xx
// answer is its head alone).
// Empty when the connection closed (or timed out) before a whole head arrived.
inline std::string ReadResponse(int fd) {
  std::string got;
  char buf[4096];
  size_t want = std::string::npos;
  for (;;) {
    size_t end = got.find("\r\n\r\n");
    if (end != std::string::npos && want == std::string::npos) {
      size_t cl = got.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) {
        want = end + 4 + std::strtoull(got.c_str() + cl + 16, nullptr, 10);
      }
    }
    if (end != std::string::npos && got.compare(0, 10, "HTTP/1.1 1") == 0) {
      return got.substr(0, end + 4);  // an interim answer (100 Continue): head only
    }
    if (want != std::string::npos && got.size() >= want) return got.substr(0, want);
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return end == std::string::npos ? std::string() : got;
    got.append(buf, static_cast<size_t>(n));
  }
}

// Reads until the server closes (or the receive timeout); returns what came.
inline std::string ReadUntilClose(int fd) {
  std::string got;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
}

// The status code of a response head ("HTTP/1.1 431 ..." -> 431); 0 when there is none.
inline int StatusOf(const std::string& response) {
  if (response.size() < 12 || response.compare(0, 5, "HTTP/") != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

// Whether GET /health on a new connection answers 200 within 10 s (the server still serves a
// normal client).
inline bool HealthOk(int port) {
  int fd = Connect(port, 10);
  if (fd < 0) return false;
  bool ok = SendAll(fd, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") &&
            StatusOf(ReadResponse(fd)) == 200;
  ::close(fd);
  return ok;
}

}  // namespace modelcar::http::testing

#endif  // MODELCAR_HTTP_SERVER_TEST_UTIL_H_
