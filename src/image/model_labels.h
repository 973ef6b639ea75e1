// Image labels describing the model, read from its Hugging Face style config.json.
#ifndef MODELCAR_IMAGE_MODEL_LABELS_H_
#define MODELCAR_IMAGE_MODEL_LABELS_H_

#include <map>
#include <string>
#include <string_view>

namespace modelcar {

inline constexpr std::string_view kLabelArchitecture = "io.modelcar.model.architecture";
inline constexpr std::string_view kLabelModelType = "io.modelcar.model.type";
inline constexpr std::string_view kLabelDtype = "io.modelcar.model.dtype";
inline constexpr std::string_view kLabelQuantization = "io.modelcar.model.quantization";
inline constexpr std::string_view kLabelQuantBits = "io.modelcar.model.quantization.bits";
inline constexpr std::string_view kLabelQuantGroup = "io.modelcar.model.quantization.group-size";

// Labels from the text of config.json: architectures[0], model_type, torch_dtype (or dtype),
// and from quantization_config: quant_method, bits (or AWQ's w_bit), group_size (or
// q_group_size; -1 means per channel), numbers written in decimal.
// Missing fields are left out; malformed JSON gives no labels (never an error: config.json is
// optional and its format is the model's business). Sets *warning when it could not be parsed.
std::map<std::string, std::string> ModelLabels(std::string_view config_json, std::string* warning);

}  // namespace modelcar

#endif  // MODELCAR_IMAGE_MODEL_LABELS_H_
