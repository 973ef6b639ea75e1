#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace modelcar {
namespace {

constexpr int kUnset = -1;
std::atomic<int> g_level{kUnset};

LogLevel FromEnvironment() {
  const char* v = std::getenv("MODELCAR_LOG");
  return ParseLogLevel(v != nullptr ? v : "").value_or(LogLevel::kInfo);
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warning" || name == "warn") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  return std::nullopt;
}

LogLevel CurrentLogLevel() {
  int v = g_level.load(std::memory_order_relaxed);
  if (v == kUnset) {
    int env = static_cast<int>(FromEnvironment());
    // A concurrent SetLogLevel wins over the environment.
    if (g_level.compare_exchange_strong(v, env, std::memory_order_relaxed)) v = env;
  }
  return static_cast<LogLevel>(v);
}

void SetLogLevel(LogLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

void LogLine(LogLevel level, std::string_view message) {
  if (!LogEnabled(level)) return;
  std::string line;
  line.reserve(message.size() + 1);
  line.append(message).push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(2, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report a failing stderr
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace modelcar
