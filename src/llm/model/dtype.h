// Element types of safetensors tensors and the bf16/f16 <-> f32 conversions the engine needs.
#ifndef MODELCAR_LLM_MODEL_DTYPE_H_
#define MODELCAR_LLM_MODEL_DTYPE_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace modelcar::llm {

// The dtypes the engine computes with. Other safetensors dtypes (I8, F64, ...) parse as
// kOther: they may sit in a file but no needed tensor may use them.
enum class DType { kBF16, kF16, kF32, kOther };

// "BF16", "F16", "F32" as written in safetensors headers and config.json ("bfloat16", ...).
std::string_view DTypeName(DType t);
// Bytes per element of a safetensors dtype string ("BF16" -> 2, "I64" -> 8); nullopt if unknown.
std::optional<int> SafetensorsDTypeSize(std::string_view name);
// Maps a safetensors dtype string to DType (unknown but sized dtypes -> kOther).
DType ParseSafetensorsDType(std::string_view name);
inline int DTypeSize(DType t) { return t == DType::kF32 ? 4 : 2; }

inline float Bf16ToF32(uint16_t b) {
  uint32_t u = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Round-to-nearest-even; NaN stays NaN.
inline uint16_t F32ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float F16ToF32(uint16_t h);
// Round-to-nearest-even; overflow to infinity, NaN stays NaN, subnormals kept.
uint16_t F32ToF16(float f);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_DTYPE_H_
