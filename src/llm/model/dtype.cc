#include "llm/model/dtype.h"

#include <cmath>
#include <cstring>

namespace modelcar::llm {

std::string_view DTypeName(DType t) {
  switch (t) {
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
    case DType::kF32:
      return "F32";
    case DType::kOther:
      break;
  }
  return "other";
}

std::optional<int> SafetensorsDTypeSize(std::string_view n) {
  if (n == "BOOL" || n == "U8" || n == "I8" || n == "F8_E4M3" || n == "F8_E5M2") return 1;
  if (n == "BF16" || n == "F16" || n == "I16" || n == "U16") return 2;
  if (n == "F32" || n == "I32" || n == "U32") return 4;
  if (n == "F64" || n == "I64" || n == "U64") return 8;
  return std::nullopt;
}

DType ParseSafetensorsDType(std::string_view n) {
  if (n == "BF16") return DType::kBF16;
  if (n == "F16") return DType::kF16;
  if (n == "F32") return DType::kF32;
  return DType::kOther;
}

float F16ToF32(uint16_t h) {
  const int sign = h >> 15;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant ? NAN : INFINITY;
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
  }
  return sign ? -v : v;
}

uint16_t F32ToF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return sign | 0x7e00;   // NaN
  if (x >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity
  if (x < 0x38800000u) {                       // below 2^-14: f16 subnormal (or zero)
    float v;
    std::memcpy(&v, &x, 4);
    return sign | static_cast<uint16_t>(std::lrint(v * 16777216.0f));  // exact scale by 2^24
  }
  x -= 0x38000000u;  // exponent bias 127 -> 15
  x += 0xfffu + ((x >> 13) & 1u);
  return sign | static_cast<uint16_t>(x >> 13);
}

}  // namespace modelcar::llm
