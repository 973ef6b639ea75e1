#include "registry/credential_helper.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/file.h"
#include "base/json.h"

extern char** environ;

namespace modelcar::registry {
namespace {

constexpr size_t kMaxAnswer = 64 * 1024;
constexpr std::string_view kNotFound = "credentials not found in native keychain";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.remove_prefix(1);
  return s;
}

// How a helper run ended.
struct Outcome {
  bool started = false;
  int spawn_errno = 0;
  bool timed_out = false;
  bool too_long = false;
  int wait_status = 0;
  std::string out;
};

// Starts `argv` with `input` on stdin (a socket, so a helper that exits early cannot SIGPIPE us),
// stdout collected (up to kMaxAnswer), stderr to /dev/null, in a new process group with a clean
// signal mask; kills the group at `deadline`.
Outcome Run(const std::vector<std::string>& argv, const std::string& input,
            std::chrono::steady_clock::time_point deadline) {
  Outcome o;
  int in[2], out[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    o.spawn_errno = errno;
    return o;
  }
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0) {
    o.spawn_errno = errno;
    ::close(in[0]);
    ::close(in[1]);
    return o;
  }
  UniqueFd in_parent(in[0]), in_child(in[1]), out_parent(out[0]), out_child(out[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_child.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_child.get(), 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  in_child.Reset();
  out_child.Reset();
  if (rc != 0) {
    o.spawn_errno = rc;
    return o;
  }
  o.started = true;

  (void)::send(in_parent.get(), input.data(), input.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  in_parent.Reset();  // EOF on the helper's stdin

  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      o.timed_out = true;
      break;
    }
    pollfd p{out_parent.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t got = ::read(out_parent.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: the helper closed stdout
    if (o.out.size() + static_cast<size_t>(got) > kMaxAnswer) {
      o.too_long = true;
      break;
    }
    o.out.append(buf, static_cast<size_t>(got));
  }
  out_parent.Reset();
  // Wait for the exit (stdout closed does not mean exited) until the deadline, then kill.
  for (;;) {
    pid_t w = ::waitpid(pid, &o.wait_status, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) break;
    if (o.timed_out || o.too_long || std::chrono::steady_clock::now() >= deadline) {
      o.timed_out = o.timed_out || !o.too_long;
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &o.wait_status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return o;
}

std::chrono::milliseconds ConfiguredTimeout() {
  if (const char* v = std::getenv("MODELCAR_CREDENTIAL_HELPER_TIMEOUT"); v && *v) {
    char* end = nullptr;
    double s = std::strtod(v, &end);
    if (end != v && *end == '\0' && s > 0) {
      return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
    }
  }
  return std::chrono::seconds(30);
}

}  // namespace

std::string HelperServerUrl(std::string_view registry) {
  std::string key = NormalizeRegistryKey(registry);
  return key == "docker.io" ? "https://index.docker.io/v1/" : key;
}

Result<std::optional<Credential>> ParseHelperAnswer(std::string_view out, const std::string& what) {
  Result<nlohmann::json> doc = ParseJsonLimited(out, "");
  auto field = [&](const char* name) -> std::optional<std::string> {
    auto it = doc->find(name);
    if (it == doc->end()) return std::string();
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  std::optional<std::string> user, secret;
  if (doc.ok() && doc->is_object()) {
    user = field("Username");
    secret = field("Secret");
  }
  if (!user || !secret) {
    return InvalidArgument(what +
                           " answered something other than the JSON "
                           "{\"ServerURL\", \"Username\", \"Secret\"} of the credential-helper "
                           "protocol (its output is not shown: it may hold secrets)");
  }
  if (user->empty() && secret->empty()) return std::optional<Credential>();
  Credential c;
  if (*user == "<token>") {
    c.identity_token = *secret;
  } else {
    c.username = *user;
    c.password = *secret;
  }
  return std::optional<Credential>(std::move(c));
}

Result<std::optional<Credential>> RunCredentialHelper(const std::string& helper,
                                                      const std::string& server_url,
                                                      std::chrono::milliseconds timeout,
                                                      const std::string& what) {
  std::string bin = "docker-credential-" + helper;
  Outcome o = Run({bin, "get"}, server_url, std::chrono::steady_clock::now() + timeout);
  if (!o.started) {
    if (o.spawn_errno == ENOENT) {
      return FailedPrecondition(what + ": " + bin + " is not installed (not found on $PATH)");
    }
    return ErrnoStatus(o.spawn_errno, what + ": cannot start " + bin);
  }
  if (o.timed_out) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3g", static_cast<double>(timeout.count()) / 1000);
    return DeadlineExceeded(what + ": " + bin + " gave no answer within " + secs +
                            " s and was killed ($MODELCAR_CREDENTIAL_HELPER_TIMEOUT)");
  }
  if (o.too_long) {
    return InvalidArgument(
        fmt::format("{}: {} answered more than {} bytes", what, bin, kMaxAnswer));
  }
  if (WIFSIGNALED(o.wait_status)) {
    return Unavailable(
        fmt::format("{}: {} was killed by signal {}", what, bin, WTERMSIG(o.wait_status)));
  }
  int code = WIFEXITED(o.wait_status) ? WEXITSTATUS(o.wait_status) : -1;
  if (code != 0) {
    if (Trim(o.out) == kNotFound) return std::optional<Credential>();
    return Unavailable(fmt::format(
        "{}: {} get exited with status {} (its output is not shown: it may hold secrets)", what,
        bin, code));
  }
  return ParseHelperAnswer(o.out, what);
}

Result<std::optional<Credential>> GetHelperCredential(const std::string& helper,
                                                      const std::string& server_url, bool refresh,
                                                      const std::string& what) {
  struct Entry {
    std::optional<Credential> credential;
    std::chrono::steady_clock::time_point at;
  };
  static std::mutex mu;  // one helper run at a time; the others then find its answer
  static std::map<std::pair<std::string, std::string>, Entry> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_pair(helper, server_url);
  auto now = std::chrono::steady_clock::now();
  if (auto it = cache.find(key);
      it != cache.end() && !refresh && now - it->second.at < kHelperCacheTtl) {
    return it->second.credential;
  }
  ASSIGN_OR_RETURN(std::optional<Credential> c,
                   RunCredentialHelper(helper, server_url, ConfiguredTimeout(), what));
  cache[key] = Entry{c, now};
  return c;
}

}  // namespace modelcar::registry
