// Internal to llm/ops: one stored element (f32, bf16 or f16) as f32, for the scalar tails of the
// SIMD kernels (block_hwy.cc: weight rows; attention.cc: KV cache rows). Exact conversions.
#ifndef MODELCAR_LLM_OPS_SCALAR_H_
#define MODELCAR_LLM_OPS_SCALAR_H_

#include <cstdint>
#include <cstring>

#include "hwy/base.h"
#include "llm/model/dtype.h"

namespace modelcar::llm::ops::internal {

inline float ToF32(const float* p) { return *p; }
inline float ToF32(const hwy::bfloat16_t* p) { return hwy::F32FromBF16(*p); }
inline float ToF32(const hwy::float16_t* p) {
  uint16_t b;
  std::memcpy(&b, p, 2);
  return F16ToF32(b);
}

}  // namespace modelcar::llm::ops::internal

#endif  // MODELCAR_LLM_OPS_SCALAR_H_
