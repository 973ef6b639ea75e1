// Fuzz target: Kubernetes manifests and the injection ConfigMap as users pass them (`inject -f`,
// `smoke -f`, `webhook --config`): JSON or YAML through yaml-cpp. The first input byte picks the
// entry point (documents, the ConfigMap, a workload turned into a pod and mutated). Property:
// ToYaml's output parses back to the same document.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_check.h"
#include "kube/config.h"
#include "kube/json_yaml.h"
#include "kube/mutate.h"
#include "kube/workload.h"

using namespace modelcar;
using namespace modelcar::kube;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t sel = in.Byte();
  std::string_view text = in.rest();
  switch (sel % 3) {
    case 0: {
      auto docs = ParseDocuments(text, "fuzz.yaml");
      if (!docs.ok()) break;
      for (const nlohmann::json& doc : *docs) {
        std::string yaml = ToYaml(doc);
        auto back = ParseJsonOrYaml(yaml, "round trip");
        FUZZ_CHECK(back.ok());
        FUZZ_CHECK(*back == doc);
      }
      break;
    }
    case 1:
      (void)ParseInjectConfig(text, "config.yaml");
      break;
    default:
      if (auto docs = ParseDocuments(text, "isvc.yaml"); docs.ok()) {
        if (auto pod = PodFromManifest(*docs); pod.ok()) {
          (void)Mutate(*pod, DefaultInjectConfig());
        }
      }
      break;
  }
  return 0;
}
