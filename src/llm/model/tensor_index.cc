#include "llm/model/tensor_index.h"

namespace modelcar::llm {

Status TensorIndex::Add(size_t file, const std::string& name) {
  if (!where_.emplace(name, file).second) {
    return DataLoss("tensor \"" + name + "\" appears in two files: " +
                    (*files_)[where_[name]].map->path() + " and " + (*files_)[file].map->path());
  }
  return Status();
}

Result<TensorRef> TensorIndex::Find(const std::string& name,
                                    const std::vector<int64_t>& shape) const {
  auto it = where_.find(name);
  if (it == where_.end()) return NotFound("tensor \"" + name + "\" is missing from the model");
  const SafetensorsFile& f = (*files_)[it->second];
  const TensorInfo& t = f.header.tensors.at(name);
  if (t.shape != shape) {
    return InvalidArgument("tensor \"" + name + "\" in " + f.map->path() + " has shape " +
                           ShapeString(t.shape) + ", the config needs " + ShapeString(shape));
  }
  return TensorRef{&t, &f};
}

Result<TensorRef> TensorIndex::Get(const std::string& name,
                                   const std::vector<int64_t>& shape) const {
  ASSIGN_OR_RETURN(TensorRef r, Find(name, shape));
  if (r.info->dtype == DType::kOther) {
    return InvalidArgument("tensor \"" + name + "\" in " + r.path() + " has dtype " +
                           r.info->dtype_name + "; supported: BF16, F16, F32");
  }
  return r;
}

Result<TensorRef> TensorIndex::GetTyped(const std::string& name, const std::vector<int64_t>& shape,
                                        const std::string& dtype_name) const {
  ASSIGN_OR_RETURN(TensorRef r, Find(name, shape));
  if (r.info->dtype_name != dtype_name) {
    return InvalidArgument("tensor \"" + name + "\" in " + r.path() + " has dtype " +
                           r.info->dtype_name + "; the format needs " + dtype_name);
  }
  return r;
}

std::string TensorIndex::ShapeString(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace modelcar::llm
