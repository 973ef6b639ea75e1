#include "llm/model/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "llm/model/dtype.h"
#include "llm/model/matrix.h"

namespace modelcar::llm {

void QuantMatrix::DequantizeRow(int64_t n, float* out) const {
  for (int64_t k = 0; k < cols; ++k) {
    const int64_t g = GroupIndex(k / group, n);
    const float q = static_cast<float>(Q(k, n)) - static_cast<float>(Zero(g));
    out[perm.empty() ? k : perm[k]] = Scale(g) * q;
  }
}

namespace {
// Where GroupIndex i's scale (f16 bits) and zero point sit in the compact form's qweight.
const uint8_t* MetaBytes(const QuantMatrix& q, int64_t i, int64_t* j) {
  const int64_t per_tile = q.groups() * QuantMatrix::kTile;
  *j = i % QuantMatrix::kTile;
  return reinterpret_cast<const uint8_t*>(
      q.MetaLine(i / per_tile, i % per_tile / QuantMatrix::kTile));
}
}  // namespace

float QuantMatrix::Scale(int64_t i) const {
  if (!compact_form) return scales[i];
  int64_t j;
  const uint8_t* line = MetaBytes(*this, i, &j);
  uint16_t h;
  std::memcpy(&h, line + 2 * j, 2);
  return F16ToF32(h);
}

uint32_t QuantMatrix::Zero(int64_t i) const {
  if (!compact_form) return zeros[i];
  int64_t j;
  return MetaBytes(*this, i, &j)[2 * kTile + j];
}

void QuantMatrix::Compact() {
  if (compact_form || scales.empty()) return;
  std::vector<uint16_t> s(scales.size());
  for (size_t i = 0; i < scales.size(); ++i) {
    s[i] = F32ToF16(scales[i]);
    // Bit for bit: -0.0 stays -0.0, NaN is refused (it never equals itself).
    const float back = F16ToF32(s[i]);
    if (std::memcmp(&back, &scales[i], 4) != 0 || zeros[i] > 255) return;
  }
  constexpr int kMetaBytes = kTile * 4;
  const int64_t words = group_words();
  decltype(qweight) packed(static_cast<size_t>(tiles() * groups() * (words + kTile)), 0);
  for (int64_t t = 0; t < tiles(); ++t) {
    for (int64_t g = 0; g < groups(); ++g) {
      const int64_t in = (t * groups() + g) * words, out = (t * groups() + g) * (words + kTile);
      std::copy_n(&qweight[in], words, &packed[out]);
      uint8_t line[kMetaBytes] = {};
      for (int64_t j = 0; j < kTile; ++j) {
        const int64_t i = (t * groups() + g) * kTile + j;
        std::memcpy(line + 2 * j, &s[i], 2);
        line[2 * kTile + j] = static_cast<uint8_t>(zeros[i]);
      }
      std::memcpy(&packed[out + words], line, kMetaBytes);
    }
  }
  qweight = std::move(packed);
  compact_form = true;
  scales = {};
  zeros = {};
}

void QuantMatrix::Allocate() {
  qweight.assign(static_cast<size_t>(tiles() * words_per_tile()), 0);
  scales.assign(static_cast<size_t>(tiles() * groups() * kTile), 0.0f);
  zeros.assign(static_cast<size_t>(tiles() * groups() * kTile), 0);
}

std::unique_ptr<QuantMatrix> QuantizeInt8(const Matrix& w) {
  if (w.cols % 32 != 0 || w.dtype == DType::kOther || w.quant) return nullptr;
  auto q = std::make_unique<QuantMatrix>();
  q->bits = 8;
  q->rows = w.rows;
  q->cols = w.cols;
  q->group = w.cols % 128 == 0 ? 128 : w.cols;
  const int64_t N = w.rows, K = w.cols, G = q->group;
  q->Allocate();
  std::vector<float> row(K);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      const size_t i = static_cast<size_t>(n * K + k);
      if (w.dtype == DType::kF32) {
        std::memcpy(&row[k], static_cast<const char*>(w.data) + 4 * i, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, static_cast<const char*>(w.data) + 2 * i, 2);
        row[k] = w.dtype == DType::kBF16 ? Bf16ToF32(h) : F16ToF32(h);
      }
    }
    for (int64_t g = 0; g < K / G; ++g) {
      float amax = 0;
      for (int64_t k = g * G; k < (g + 1) * G; ++k) amax = std::max(amax, std::fabs(row[k]));
      const float scale = amax / 127.0f;
      q->scales[q->GroupIndex(g, n)] = scale;
      q->zeros[q->GroupIndex(g, n)] = 128;
      for (int64_t k = g * G; k < (g + 1) * G; ++k) {
        const float v = scale > 0 ? std::nearbyint(row[k] / scale) : 0.0f;
        const uint32_t u = static_cast<uint32_t>(std::clamp(v, -127.0f, 127.0f) + 128.0f);
        q->Put(k, n, u);
      }
    }
  }
  q->Compact();
  return q;
}

}  // namespace modelcar::llm
