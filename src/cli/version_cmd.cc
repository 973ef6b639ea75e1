// `modelcar version`: prints the version and the build's CPU features.
#include <cstdio>

#include "cli/command.h"

namespace {

const modelcar::cli::CommandRegistration kVersion{
    "version", "Print the modelcar version", [](CLI::App&) -> modelcar::cli::Runner {
      return []() {
        std::printf("modelcar %s\n", MODELCAR_VERSION);
        return modelcar::Status();
      };
    }};

}  // namespace
