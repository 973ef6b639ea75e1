// `modelcar smoke -f POD`: the seed's §3 checks on a mutated Pod (PASS/FAIL lines). Exit 0 when
// every check passes, 1 when one fails, 2 for unreadable input.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "base/file.h"
#include "cli/command.h"
#include "kube/json_yaml.h"
#include "kube/smoke.h"
#include "kube/workload.h"

namespace {

struct Flags {
  std::string file;
};

modelcar::Status Run(const Flags& f) {
  using namespace modelcar;
  ASSIGN_OR_RETURN(std::string text, ReadFile(f.file, 64 << 20));
  ASSIGN_OR_RETURN(auto docs, kube::ParseDocuments(text, f.file));
  ASSIGN_OR_RETURN(nlohmann::json pod, kube::PodFromManifest(docs));
  auto checks = kube::SmokeChecks(pod);
  std::string out = kube::FormatSmoke(checks);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  for (const auto& c : checks) {
    if (!c.pass) std::exit(1);
  }
  std::exit(0);
}

const modelcar::cli::CommandRegistration kSmoke{
    "smoke", "Check a mutated Pod for what KServe's modelcar needs (PASS/FAIL, exit code)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("-f,--filename", f->file, "the Pod (YAML/JSON), e.g. from modelcar inject")
          ->required();
      return [f]() { return Run(*f); };
    }};

}  // namespace
