// Subcommand registry of the modelcar binary.
//
// Each src/cli/<name>_cmd.cc parses its own flags and calls a library; it registers itself with a
// static CommandRegistration:
//
//   namespace {
//   struct Flags { std::string dir; };
//   const modelcar::cli::CommandRegistration kReg{
//       "build", "Build a modelcar image from a model directory",
//       [](CLI::App& app) -> modelcar::cli::Runner {
//         auto flags = std::make_shared<Flags>();
//         app.add_option("dir", flags->dir)->required();
//         return [flags]() -> modelcar::Status { return ...; };
//       }};
//   }
//
// main() prints a failed Status as "modelcar <cmd>: error: <message>" on stderr and exits with
// ExitCode(status). A Runner may return a Result-free exit code by returning a Status; commands
// whose exit code has its own meaning (smoke, prefetch-check) call std::exit themselves.
#ifndef MODELCAR_CLI_COMMAND_H_
#define MODELCAR_CLI_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

#include "base/status.h"

namespace modelcar::cli {

using Runner = std::function<Status()>;
using Setup = std::function<Runner(CLI::App&)>;

struct CommandRegistration {
  CommandRegistration(std::string name, std::string help, Setup setup);
};

struct Command {
  std::string name;
  std::string help;
  Setup setup;
};

// All registered commands, sorted by name.
const std::vector<Command>& Commands();

}  // namespace modelcar::cli

#endif  // MODELCAR_CLI_COMMAND_H_
