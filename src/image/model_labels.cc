#include "image/model_labels.h"

#include <nlohmann/json.hpp>

namespace modelcar {

std::map<std::string, std::string> ModelLabels(std::string_view config_json, std::string* warning) {
  std::map<std::string, std::string> labels;
  auto j = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    if (warning) *warning = "config.json is not a JSON object; no model labels added";
    return labels;
  }
  if (auto a = j.find("architectures");
      a != j.end() && a->is_array() && !a->empty() && (*a)[0].is_string()) {
    labels[std::string(kLabelArchitecture)] = (*a)[0].get<std::string>();
  }
  if (auto t = j.find("model_type"); t != j.end() && t->is_string()) {
    labels[std::string(kLabelModelType)] = t->get<std::string>();
  }
  for (const char* key : {"torch_dtype", "dtype"}) {
    if (auto d = j.find(key); d != j.end() && d->is_string()) {
      labels[std::string(kLabelDtype)] = d->get<std::string>();
      break;
    }
  }
  if (auto q = j.find("quantization_config"); q != j.end() && q->is_object()) {
    auto put = [&](std::string_view label, std::initializer_list<const char*> keys) {
      for (const char* key : keys) {
        auto v = q->find(key);
        if (v == q->end()) continue;
        if (v->is_string()) labels[std::string(label)] = v->get<std::string>();
        if (v->is_number_integer()) labels[std::string(label)] = std::to_string(v->get<int64_t>());
        return;
      }
    };
    put(kLabelQuantization, {"quant_method"});
    put(kLabelQuantBits, {"bits", "w_bit"});
    put(kLabelQuantGroup, {"group_size", "q_group_size"});
  }
  return labels;
}

}  // namespace modelcar
