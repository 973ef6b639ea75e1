// `modelcar sidecar [--link /mnt/models] [--target /models]`: KServe's modelcar sidecar without a
// shell. KServe runs `ln -sf /proc/$$/root/models /mnt/models && sleep infinity` in the image;
// this links LINK to /proc/<own pid>/root<TARGET> (parents created, replaced atomically), then
// waits. SIGTERM or SIGINT ends it at once with exit code 0 (it is PID 1 in its container, where
// default signal actions do not apply, so it waits for the signals explicitly).
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "node/mount.h"

namespace {

struct Flags {
  std::string link = "/mnt/models";
  std::string target = "/models";
  bool no_wait = false;
};

const modelcar::cli::CommandRegistration kSidecar{
    "sidecar", "KServe modelcar sidecar: link /mnt/models to this container's /models and wait",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("--link", f->link, "Link to create (default /mnt/models)");
      app.add_option("--target", f->target, "Directory in this container (default /models)");
      app.add_flag("--no-wait", f->no_wait, "Create the link and exit (for tests)");
      return [f]() -> modelcar::Status {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, nullptr);  // before linking: a TERM now is not lost
        std::string target = fmt::format("/proc/{}/root{}", ::getpid(), f->target);
        ASSIGN_OR_RETURN(std::string link, modelcar::AtomicSymlink(target, f->link));
        std::printf("%s -> %s\n", link.c_str(), target.c_str());
        std::fflush(stdout);
        if (f->no_wait) return modelcar::Status();
        int sig = 0;
        while (sigwait(&set, &sig) != 0) {
        }
        return modelcar::Status();
      };
    }};

}  // namespace
