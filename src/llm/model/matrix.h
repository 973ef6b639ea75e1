// Matrix: a weight matrix as the kernels (llm/ops) read it, viewed in a model's mapping or a
// quantized copy; what a Model's layers hold (model.h).
#ifndef MODELCAR_LLM_MODEL_MATRIX_H_
#define MODELCAR_LLM_MODEL_MATRIX_H_

#include <cstdint>

#include "llm/model/dtype.h"
#include "llm/model/quant.h"

namespace modelcar::llm {

// A row-major [rows, cols] matrix viewed in a mapping (weights of nn.Linear: [out, in]), or,
// when `quant` is set, a quantized one (quant.h; then dtype and data are unused).
struct Matrix {
  DType dtype = DType::kBF16;
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data = nullptr;          // valid while the owning Model lives
  const QuantMatrix* quant = nullptr;  // owned by the Model
};

// out[r - begin] = the L2 norm of row r of `w` (BF16, no quant), r in [begin, end).
void Bf16RowNorms(const Matrix& w, int64_t begin, int64_t end, float* out);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_MATRIX_H_
