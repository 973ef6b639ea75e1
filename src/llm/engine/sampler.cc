#include "llm/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "llm/ops/ops.h"

namespace modelcar::llm {
namespace {

// Indices of the k largest values (ties: lower index first), sorted most likely first.
void TopK(std::span<const float> v, int k, std::vector<int32_t>* idx) {
  const int n = static_cast<int>(v.size());
  k = std::min(k, n);
  idx->resize(n);
  std::iota(idx->begin(), idx->end(), 0);
  auto better = [&](int32_t a, int32_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); };
  if (k < n) {
    std::nth_element(idx->begin(), idx->begin() + k, idx->end(), better);
    idx->resize(k);
  }
  std::sort(idx->begin(), idx->end(), better);
}

int32_t ArgMax(std::span<const float> v) {
  return ops::ArgMax(v.data(), static_cast<int>(v.size()));
}

// log_softmax at `token` and the top k given the log-sum-exp of the logits.
float LogSoftmaxWith(std::span<const float> logits, float lse, int32_t token, int k,
                     std::vector<TokenLogprob>* top) {
  if (top) {
    top->clear();
    if (k > 0) {
      std::vector<int32_t> idx;
      TopK(logits, k, &idx);
      for (int32_t i : idx) top->push_back({i, logits[i] - lse});
    }
  }
  return logits[token] - lse;
}

}  // namespace

Status ValidateSamplingParams(const SamplingParams& p) {
  if (!(p.temperature >= 0 && p.temperature <= 100)) {
    return InvalidArgument("temperature must be in [0, 100]");
  }
  if (p.top_k < -1) return InvalidArgument("top_k must be -1, 0 (off) or positive");
  if (!(p.top_p > 0 && p.top_p <= 1)) return InvalidArgument("top_p must be in (0, 1]");
  if (!(p.min_p >= 0 && p.min_p <= 1)) return InvalidArgument("min_p must be in [0, 1]");
  if (!(p.repetition_penalty > 0 && p.repetition_penalty <= 100)) {
    return InvalidArgument("repetition_penalty must be in (0, 100]");
  }
  if (!(p.presence_penalty >= -2 && p.presence_penalty <= 2)) {
    return InvalidArgument("presence_penalty must be in [-2, 2]");
  }
  if (!(p.frequency_penalty >= -2 && p.frequency_penalty <= 2)) {
    return InvalidArgument("frequency_penalty must be in [-2, 2]");
  }
  if (p.logprobs < -1 || p.logprobs > 100) {
    return InvalidArgument("logprobs must be in [-1, 100]");
  }
  return Status();
}

float LogSoftmaxAt(std::span<const float> logits, int32_t token, int k,
                   std::vector<TokenLogprob>* top) {
  const float lse = ops::LogSumExp(logits.data(), static_cast<int>(logits.size())).lse;
  return LogSoftmaxWith(logits, lse, token, k, top);
}

Sampler::Sampler(const SamplingParams& params, std::span<const int32_t> prompt)
    : params_(params),
      rng_(params.seed ? *params.seed : std::random_device{}() * 0x9E3779B97F4A7C15ull) {
  if (params_.repetition_penalty != 1.0f) seen_.insert(prompt.begin(), prompt.end());
}

// Penalties on a copy of the logits, then the argmax (greedy) or a draw after temperature,
// top-k, top-p and min-p; the logprobs are always those of the raw logits.
SampledToken Sampler::Sample(std::span<const float> logits) {
  const SamplingParams& p = params_;
  const bool penalties =
      p.repetition_penalty != 1.0f || p.presence_penalty != 0 || p.frequency_penalty != 0;
  const bool greedy = p.temperature == 0 || p.top_k == 1;
  const bool report = p.logprobs >= 0;
  if (greedy && !penalties && report) {  // one pass over the logits: the argmax and the log-sum-exp
    const ops::LogSumExpResult r = ops::LogSumExp(logits.data(), static_cast<int>(logits.size()));
    SampledToken out;
    out.token = r.argmax;
    out.logprob = LogSoftmaxWith(logits, r.lse, r.argmax, p.logprobs, &out.top);
    return out;
  }
  const std::span<const float> scores = penalties ? Penalized(logits) : logits;
  const int32_t token = greedy ? ArgMax(scores) : Draw(scores);

  SampledToken out;
  out.token = token;
  if (report) out.logprob = LogSoftmaxAt(logits, token, p.logprobs, &out.top);
  if (p.repetition_penalty != 1.0f) seen_.insert(token);
  if (p.presence_penalty != 0 || p.frequency_penalty != 0) ++out_count_[token];
  return out;
}

std::span<const float> Sampler::Penalized(std::span<const float> logits) {
  const SamplingParams& p = params_;
  work_.assign(logits.begin(), logits.end());
  if (p.repetition_penalty != 1.0f) {
    for (int32_t t : seen_) {
      float& v = work_[t];
      v = v > 0 ? v / p.repetition_penalty : v * p.repetition_penalty;
    }
  }
  for (auto [t, c] : out_count_) {
    work_[t] -= p.presence_penalty + p.frequency_penalty * static_cast<float>(c);
  }
  return work_;
}

int32_t Sampler::Draw(std::span<const float> scores) {
  const SamplingParams& p = params_;
  const float inv_t = 1.0f / p.temperature;
  float mx = -std::numeric_limits<float>::infinity();
  for (float v : scores) mx = std::max(mx, v);
  FindCandidates(scores, mx, inv_t);
  // Probabilities (unnormalized) of the candidates after temperature.
  std::vector<double> prob(idx_.size());
  double kept = 0;
  for (size_t j = 0; j < idx_.size(); ++j) {
    prob[j] = std::exp(static_cast<double>((scores[idx_[j]] - mx) * inv_t));
    kept += prob[j];
  }
  const size_t keep = KeptCandidates(prob, kept);
  double sum = 0;
  for (size_t j = 0; j < keep; ++j) sum += prob[j];
  const double u = std::uniform_real_distribution<double>(0, sum)(rng_);
  double c = 0;
  for (size_t j = 0; j < keep; ++j) {
    c += prob[j];
    if (u < c) return idx_[j];
  }
  return idx_[keep - 1];
}

void Sampler::FindCandidates(std::span<const float> scores, float mx, float inv_t) {
  const SamplingParams& p = params_;
  const int n = static_cast<int>(scores.size());
  const int k = p.top_k > 0 ? std::min(p.top_k, n) : n;
  if (!(p.top_p < 1.0f && k == n)) return TopK(scores, k, &idx_);
  double total = 0;
  for (float v : scores) total += std::exp(static_cast<double>((v - mx) * inv_t));
  for (int want = 64;; want *= 8) {
    TopK(scores, std::min(want, n), &idx_);
    double mass = 0;
    for (int32_t i : idx_) mass += std::exp(static_cast<double>((scores[i] - mx) * inv_t));
    if (mass >= p.top_p * total || want >= n) break;
  }
}

size_t Sampler::KeptCandidates(const std::vector<double>& prob, double kept) const {
  const SamplingParams& p = params_;
  size_t keep = prob.size();
  if (p.top_p < 1.0f) {  // smallest prefix whose renormalized mass reaches top_p
    double c = 0;
    for (size_t j = 0; j < keep; ++j) {
      c += prob[j];
      if (c >= p.top_p * kept) {
        keep = j + 1;
        break;
      }
    }
  }
  if (p.min_p > 0) {  // relative to the most likely candidate
    const double cut = p.min_p * prob[0];
    size_t j = 1;
    while (j < keep && prob[j] >= cut) ++j;
    keep = j;
  }
  return keep;
}

size_t FindStopString(std::string_view text, const std::vector<std::string>& stops, size_t from) {
  size_t best = std::string_view::npos;
  for (const std::string& s : stops) {
    if (s.empty()) continue;
    const size_t at = text.find(s, std::min(from, text.size()));
    if (at < best) best = at;
  }
  return best;
}

}  // namespace modelcar::llm
