// `modelcar inject -f FILE [--config F] [--serving-runtime F] [-o yaml|json]`: prints the Pod that
// the webhook would admit for a Pod, Deployment or InferenceService, offline.
#include <cstdio>
#include <memory>

#include "base/file.h"
#include "cli/command.h"
#include "kube/config.h"
#include "kube/json_yaml.h"
#include "kube/mutate.h"
#include "kube/workload.h"

namespace {

struct Flags {
  std::string file;
  std::string config;
  std::string runtime;
  std::string output = "yaml";
};

modelcar::Result<std::string> ReadInput(const std::string& path) {
  if (path != "-") return modelcar::ReadFile(path, 64 << 20);
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), stdin)) > 0) text.append(buf, n);
  return text;
}

modelcar::Status Run(const Flags& f) {
  using namespace modelcar;
  ASSIGN_OR_RETURN(std::string text, ReadInput(f.file));
  ASSIGN_OR_RETURN(auto docs, kube::ParseDocuments(text, f.file));
  nlohmann::json runtime;
  if (!f.runtime.empty()) {
    ASSIGN_OR_RETURN(std::string rt_text, ReadFile(f.runtime, 16 << 20));
    ASSIGN_OR_RETURN(auto rt_docs, kube::ParseDocuments(rt_text, f.runtime));
    if (rt_docs.empty()) return InvalidArgument(f.runtime + ": no ServingRuntime document");
    runtime = rt_docs.front();
  }
  ASSIGN_OR_RETURN(nlohmann::json pod, kube::PodFromManifest(docs, runtime));
  kube::InjectConfig config = kube::DefaultInjectConfig();
  if (!f.config.empty()) {
    ASSIGN_OR_RETURN(config, kube::LoadInjectConfig(f.config));
  }
  ASSIGN_OR_RETURN(kube::MutateResult r, kube::Mutate(pod, config));
  for (const std::string& w : r.warnings)
    std::fprintf(stderr, "modelcar inject: warning: %s\n", w.c_str());
  if (r.denied) return PermissionDenied("the webhook would deny this pod: " + r.message);
  std::string out = f.output == "json" ? r.pod.dump(2) + "\n" : kube::ToYaml(r.pod);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return Status();
}

const modelcar::cli::CommandRegistration kInject{
    "inject", "Print the Pod the modelcar webhook would admit (offline)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("-f,--filename", f->file,
                     "Pod, Deployment or InferenceService (YAML/JSON; - = stdin)")
          ->required();
      app.add_option("--config", f->config,
                     "inferenceservice-config ConfigMap or storageInitializer JSON (default: "
                     "KServe's shipped values)");
      app.add_option(
          "--serving-runtime", f->runtime,
          "ServingRuntime/ClusterServingRuntime for an InferenceService model predictor");
      app.add_option("-o,--output", f->output, "yaml or json")
          ->check(CLI::IsMember({"yaml", "json"}));
      return [f]() { return Run(*f); };
    }};

}  // namespace
