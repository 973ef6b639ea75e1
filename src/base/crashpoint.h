// Crash points: named places where a test can make the process die as a power cut, an OOM kill or
// `kill -9` would (SIGKILL: no destructors, no cleanup, no buffered writes flushed by us).
//
//   MODELCAR_CRASHPOINT=NAME      the process kills itself the first time it reaches NAME;
//   MODELCAR_CRASHPOINT=NAME@N    ... the Nth time (hits counted across threads).
// Just before dying it prints "modelcar: crash point NAME reached" to stderr, so a test can tell a
// crash at the point from any other death.
//
// For tests only, but compiled into every build: with the variable unset (production), a
// CrashPoint is one load of an initialized static and a branch. The points in the code are listed
// (and each one exercised) by tests/store/crashpoints.sh.
#ifndef MODELCAR_BASE_CRASHPOINT_H_
#define MODELCAR_BASE_CRASHPOINT_H_

#include <atomic>
#include <string>

namespace modelcar {

// Kills the process with SIGKILL when MODELCAR_CRASHPOINT names `name` (and this is its Nth hit).
// `name` must be a string literal (lower case, dots and dashes: "store.commit-renamed").
void CrashPoint(const char* name);

namespace internal {

// The parsed value of MODELCAR_CRASHPOINT (exposed for the unit test). Thread-safe.
class CrashPointTrigger {
 public:
  // `spec` null or empty: inert. "NAME" or "NAME@N" (N >= 1; anything else after '@' is inert).
  explicit CrashPointTrigger(const char* spec);
  bool active() const { return active_; }
  // Counts a hit of `name`; true when this hit must kill the process.
  bool Hit(const char* name);

 private:
  std::string name_;
  long nth_ = 1;
  bool active_ = false;
  std::atomic<long> hits_{0};
};

// Prints the message and sends SIGKILL to this process. Does not return.
[[noreturn]] void CrashNow(const char* name);

}  // namespace internal
}  // namespace modelcar

#endif  // MODELCAR_BASE_CRASHPOINT_H_
