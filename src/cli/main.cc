// modelcar: one binary, one subcommand per src/cli/*_cmd.cc.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "cli/command.h"

namespace modelcar::cli {
namespace {

std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

}  // namespace

CommandRegistration::CommandRegistration(std::string name, std::string help, Setup setup) {
  Registry().push_back({std::move(name), std::move(help), std::move(setup)});
}

const std::vector<Command>& Commands() {
  auto& r = Registry();
  std::sort(r.begin(), r.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  return r;
}

}  // namespace modelcar::cli

int main(int argc, char** argv) {
  using namespace modelcar::cli;
  CLI::App app{"modelcar: LLM weights as digest-pinned OCI images, delivered and served"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "modelcar " MODELCAR_VERSION);
  std::map<CLI::App*, std::pair<std::string, Runner>> runners;
  for (const Command& c : Commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    runners[sub] = {c.name, c.setup(*sub)};
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [sub, entry] : runners) {
    if (!sub->parsed()) continue;
    modelcar::Status status = entry.second();
    if (!status.ok()) {
      std::fprintf(stderr, "modelcar %s: error: %s\n", entry.first.c_str(),
                   status.ToString().c_str());
    }
    return modelcar::ExitCode(status);
  }
  return 2;
}
