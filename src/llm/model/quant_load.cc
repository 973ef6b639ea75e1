#include "llm/model/quant_load.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace modelcar::llm {
namespace {

uint32_t Word(const std::byte* p, int64_t i) {
  uint32_t w;
  std::memcpy(&w, p + 4 * i, 4);
  return w;
}

// The scales as f32, refused when one is not finite.
Result<std::vector<float>> Scales(const TensorRef& t, const std::string& name) {
  const int64_t n = t.info->shape[0] * t.info->shape[1];
  std::vector<float> out(static_cast<size_t>(n));
  const std::byte* p = t.data();
  for (int64_t i = 0; i < n; ++i) {
    if (t.info->dtype == DType::kF32) {
      std::memcpy(&out[i], p + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      out[i] = t.info->dtype == DType::kBF16 ? Bf16ToF32(h) : F16ToF32(h);
    }
    if (!std::isfinite(out[i])) {
      return InvalidArgument(
          fmt::format("tensor \"{}\" in {} holds a scale that is not finite ({} at index {})", name,
                      t.path(), out[i], i));
    }
  }
  return out;
}

// Group size and count for `cols` inputs, refused when they do not fit.
Result<int64_t> GroupSize(const QuantConfig& qc, const std::string& prefix, int64_t cols) {
  if (cols % 32 != 0) {
    return Unimplemented(fmt::format(
        "quantized module \"{}\": input width {} is not a multiple of 32", prefix, cols));
  }
  const int64_t g = qc.group_size == -1 ? cols : qc.group_size;
  if (cols % g != 0) {
    return InvalidArgument(
        fmt::format("quantized module \"{}\": group_size {} does not divide its input width {}",
                    prefix, qc.group_size, cols));
  }
  return g;
}

}  // namespace

Result<std::unique_ptr<QuantMatrix>> LoadGptq(const TensorIndex& index, const std::string& prefix,
                                              const QuantConfig& qc, int64_t rows, int64_t cols) {
  const int bits = qc.bits, per = 32 / bits;
  ASSIGN_OR_RETURN(const int64_t G, GroupSize(qc, prefix, cols));
  const int64_t groups = cols / G;
  if (rows % per != 0) {
    return InvalidArgument(fmt::format(
        "quantized module \"{}\": output width {} is not a multiple of {}", prefix, rows, per));
  }
  ASSIGN_OR_RETURN(TensorRef qw, index.GetTyped(prefix + ".qweight", {cols / per, rows}, "I32"));
  ASSIGN_OR_RETURN(TensorRef qz, index.GetTyped(prefix + ".qzeros", {groups, rows / per}, "I32"));
  ASSIGN_OR_RETURN(TensorRef sc, index.Get(prefix + ".scales", {groups, rows}));
  auto q = std::make_unique<QuantMatrix>();
  q->bits = bits;
  q->rows = rows;
  q->cols = cols;
  q->group = G;
  q->Allocate();
  ASSIGN_OR_RETURN(std::vector<float> scales, Scales(sc, prefix + ".scales"));
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t n = 0; n < rows; ++n) {
      const uint32_t word = Word(qz.data(), g * (rows / per) + n / per);
      q->zeros[q->GroupIndex(g, n)] =
          static_cast<uint16_t>(((word >> ((n % per) * bits)) & mask) + qc.zero_offset);
      q->scales[q->GroupIndex(g, n)] = scales[g * rows + n];
    }
  }
  // g_idx: the group of each input. Inputs out of group order (act-order) are sorted by group,
  // stably, and the permutation kept.
  std::vector<int32_t> g_idx(static_cast<size_t>(cols));
  for (int64_t k = 0; k < cols; ++k) g_idx[k] = static_cast<int32_t>(k / G);
  bool ordered = true;
  if (index.Has(prefix + ".g_idx")) {
    ASSIGN_OR_RETURN(TensorRef gi, index.GetTyped(prefix + ".g_idx", {cols}, "I32"));
    std::vector<int64_t> count(static_cast<size_t>(groups), 0);
    for (int64_t k = 0; k < cols; ++k) {
      const int32_t v = static_cast<int32_t>(Word(gi.data(), k));
      if (v < 0 || v >= groups) {
        return InvalidArgument(
            fmt::format("tensor \"{}.g_idx\" in {}: group {} at input {} is outside [0, {})",
                        prefix, gi.path(), v, k, groups));
      }
      ordered &= v == g_idx[k];
      g_idx[k] = v;
      ++count[v];
    }
    for (int64_t g = 0; g < groups; ++g) {
      if (count[g] != G) {
        return InvalidArgument(
            fmt::format("tensor \"{}.g_idx\" in {}: group {} has {} inputs, group_size is {}",
                        prefix, gi.path(), g, count[g], G));
      }
    }
  }
  if (ordered) {  // whole words: the checkpoint's rows of 16 outputs are the tiles' rows
    for (int64_t i = 0; i < cols / per; ++i) {
      for (int64_t n = 0; n < rows; n += QuantMatrix::kTile) {
        const int64_t m = std::min<int64_t>(QuantMatrix::kTile, rows - n);
        std::memcpy(&q->qweight[q->WordIndex(i * per, n)], qw.data() + 4 * (i * rows + n), 4 * m);
      }
    }
    q->Compact();
    return q;
  }
  q->perm.resize(static_cast<size_t>(cols));
  std::iota(q->perm.begin(), q->perm.end(), 0);
  std::stable_sort(q->perm.begin(), q->perm.end(),
                   [&](int32_t a, int32_t b) { return g_idx[a] < g_idx[b]; });
  for (int64_t kp = 0; kp < cols; ++kp) {
    const int64_t k = q->perm[kp];
    for (int64_t n = 0; n < rows; ++n) {
      q->Put(kp, n, (Word(qw.data(), (k / per) * rows + n) >> ((k % per) * bits)) & mask);
    }
  }
  q->Compact();
  return q;
}

Result<std::unique_ptr<QuantMatrix>> LoadAwq(const TensorIndex& index, const std::string& prefix,
                                             const QuantConfig& qc, int64_t rows, int64_t cols) {
  // AutoAWQ's GEMM packing: word (k, j) of qweight [K, N / 8] holds outputs 8j + kOrder[i] in
  // bits [4i, 4i + 4); qzeros [K / G, N / 8] likewise; zero points stored as they are.
  constexpr int kOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  ASSIGN_OR_RETURN(const int64_t G, GroupSize(qc, prefix, cols));
  const int64_t groups = cols / G;
  if (rows % 8 != 0) {
    return InvalidArgument(fmt::format(
        "quantized module \"{}\": output width {} is not a multiple of 8", prefix, rows));
  }
  ASSIGN_OR_RETURN(TensorRef qw, index.GetTyped(prefix + ".qweight", {cols, rows / 8}, "I32"));
  ASSIGN_OR_RETURN(TensorRef qz, index.GetTyped(prefix + ".qzeros", {groups, rows / 8}, "I32"));
  ASSIGN_OR_RETURN(TensorRef sc, index.Get(prefix + ".scales", {groups, rows}));
  auto q = std::make_unique<QuantMatrix>();
  q->bits = 4;
  q->rows = rows;
  q->cols = cols;
  q->group = G;
  q->Allocate();
  ASSIGN_OR_RETURN(std::vector<float> scales, Scales(sc, prefix + ".scales"));
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t j = 0; j < rows / 8; ++j) {
      const uint32_t word = Word(qz.data(), g * (rows / 8) + j);
      for (int i = 0; i < 8; ++i) {
        const int64_t n = 8 * j + kOrder[i];
        q->zeros[q->GroupIndex(g, n)] = static_cast<uint16_t>((word >> (4 * i)) & 15);
      }
    }
    for (int64_t n = 0; n < rows; ++n) q->scales[q->GroupIndex(g, n)] = scales[g * rows + n];
  }
  for (int64_t k = 0; k < cols; ++k) {
    for (int64_t j = 0; j < rows / 8; ++j) {
      const uint32_t word = Word(qw.data(), k * (rows / 8) + j);
      for (int i = 0; i < 8; ++i) {
        q->Put(k, 8 * j + kOrder[i], (word >> (4 * i)) & 15u);
      }
    }
  }
  q->Compact();
  return q;
}

}  // namespace modelcar::llm
