// Internal to llm/model: finds tensors by name across the opened safetensors files of a model.
#ifndef MODELCAR_LLM_MODEL_TENSOR_INDEX_H_
#define MODELCAR_LLM_MODEL_TENSOR_INDEX_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "llm/model/safetensors.h"

namespace modelcar::llm {

// A tensor and the file it lives in (views into the Model's files; valid while they live).
struct TensorRef {
  const TensorInfo* info = nullptr;
  const SafetensorsFile* file = nullptr;
  const std::byte* data() const { return file->Data(*info); }
  const std::string& path() const { return file->map->path(); }
};

class TensorIndex {
 public:
  explicit TensorIndex(const std::vector<SafetensorsFile>* files) : files_(files) {}

  // DataLoss when `name` is already in another file.
  Status Add(size_t file, const std::string& name);
  bool Has(const std::string& name) const { return where_.count(name) > 0; }

  // The tensor `name` with exactly `shape` and a float dtype (BF16, F16, F32).
  Result<TensorRef> Get(const std::string& name, const std::vector<int64_t>& shape) const;
  // The tensor `name` with exactly `shape` and the safetensors dtype `dtype_name` ("I32").
  Result<TensorRef> GetTyped(const std::string& name, const std::vector<int64_t>& shape,
                             const std::string& dtype_name) const;

  static std::string ShapeString(const std::vector<int64_t>& s);

 private:
  Result<TensorRef> Find(const std::string& name, const std::vector<int64_t>& shape) const;

  const std::vector<SafetensorsFile>* files_;
  std::map<std::string, size_t> where_;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_MODEL_TENSOR_INDEX_H_
