// `modelcar prefetch-check [/models]`: KServe's modelcar init-container check, without a shell.
//
// KServe runs: echo 'Pre-fetching modelcar IMAGE: ' && [ -d /models ] && [ "$(ls -A /models)" ]
//   && echo 'OK ... Prefetched and valid (/models exists)'
//   || (echo 'NOK ... Prefetched but modelcar is invalid (/models does not exist or is empty)'
//       && exit 1)
// This prints the same lines (the first one only with --image) and exits 0 or 1 the same way.
#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "cli/command.h"

namespace {

struct Flags {
  std::string dir = "/models";
  std::string image;
};

// [ -d DIR ] && [ "$(ls -A DIR)" ]: a directory (symlinks followed) with at least one entry.
bool NonEmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool any = false;
  while (dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") {
      any = true;
      break;
    }
  }
  ::closedir(d);
  return any;
}

const modelcar::cli::CommandRegistration kPrefetchCheck{
    "prefetch-check", "KServe's modelcar prefetch check: /models exists and is not empty",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("dir", f->dir, "Directory to check (default /models)");
      app.add_option("--image", f->image, "Image name for the first line, as KServe prints it");
      return [f]() -> modelcar::Status {
        if (!f->image.empty()) std::printf("Pre-fetching modelcar %s: \n", f->image.c_str());
        if (NonEmptyDir(f->dir)) {
          std::printf("OK ... Prefetched and valid (%s exists)\n", f->dir.c_str());
          std::fflush(stdout);
          return modelcar::Status();
        }
        std::printf("NOK ... Prefetched but modelcar is invalid (%s does not exist or is empty)\n",
                    f->dir.c_str());
        std::fflush(stdout);
        std::exit(1);
      };
    }};

}  // namespace
