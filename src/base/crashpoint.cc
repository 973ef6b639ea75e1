#include "base/crashpoint.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace modelcar {
namespace internal {

CrashPointTrigger::CrashPointTrigger(const char* spec) {
  if (spec == nullptr || *spec == '\0') return;
  std::string s(spec);
  size_t at = s.find('@');
  name_ = s.substr(0, at);
  if (at != std::string::npos) {
    char* end = nullptr;
    nth_ = std::strtol(s.c_str() + at + 1, &end, 10);
    if (end == s.c_str() + at + 1 || *end != '\0' || nth_ < 1) return;
  }
  active_ = !name_.empty();
}

bool CrashPointTrigger::Hit(const char* name) {
  if (!active_ || name_ != name) return false;
  return hits_.fetch_add(1) + 1 == nth_;
}

void CrashNow(const char* name) {
  // Only async-signal-safe calls: another thread may hold locks of the allocator or of stdio.
  // One write(2) so the line cannot interleave with another thread's output.
  static constexpr char kHead[] = "modelcar: crash point ";
  static constexpr char kTail[] = " reached\n";
  char line[256];
  size_t n = 0;
  auto append = [&](const char* s, size_t len) {
    len = std::min(len, sizeof line - n);
    std::memcpy(line + n, s, len);
    n += len;
  };
  append(kHead, sizeof kHead - 1);
  append(name, std::strlen(name));
  append(kTail, sizeof kTail - 1);
  (void)!::write(2, line, n);
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);  // not reached
}

}  // namespace internal

void CrashPoint(const char* name) {
  static internal::CrashPointTrigger trigger(std::getenv("MODELCAR_CRASHPOINT"));
  if (!trigger.active()) return;
  if (trigger.Hit(name)) internal::CrashNow(name);
}

}  // namespace modelcar
