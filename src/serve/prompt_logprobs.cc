#include "serve/prompt_logprobs.h"

#include <algorithm>

namespace modelcar::serve {
namespace {

std::string One(const llm::Tokenizer& tokenizer, int32_t id) {
  return tokenizer.Decode(std::span<const int32_t>(&id, 1));
}

// The score of prompt token i (>= 1), or null when it was not scored.
const RunnerSample* ScoreOf(std::span<const int32_t> prompt, std::span<const RunnerSample> scored,
                            size_t i) {
  if (i == 0 || i - 1 >= scored.size() || scored[i - 1].token != prompt[i]) return nullptr;
  return &scored[i - 1];
}

}  // namespace

std::vector<TokenLogprob> EchoLogprobs(const llm::Tokenizer& tokenizer,
                                       std::span<const int32_t> prompt,
                                       std::span<const RunnerSample> scored, int top) {
  std::vector<TokenLogprob> out;
  out.reserve(prompt.size());
  int offset = 0;
  for (size_t i = 0; i < prompt.size(); ++i) {
    TokenLogprob t;
    t.token = One(tokenizer, prompt[i]);
    t.text_offset = offset;
    offset += static_cast<int>(t.token.size());
    if (const RunnerSample* s = ScoreOf(prompt, scored, i)) {
      t.logprob = s->logprob;
      const size_t k = std::min<size_t>(s->top.size(), static_cast<size_t>(std::max(top, 0)));
      for (size_t a = 0; a < k; ++a) {
        t.top.push_back({One(tokenizer, s->top[a].first), s->top[a].second});
      }
    } else {
      t.null_logprob = true;
    }
    out.push_back(std::move(t));
  }
  return out;
}

PromptLogprobs MakePromptLogprobs(const llm::Tokenizer& tokenizer, std::span<const int32_t> prompt,
                                  std::span<const RunnerSample> scored, int top) {
  PromptLogprobs out;
  out.reserve(prompt.size());
  for (size_t i = 0; i < prompt.size(); ++i) {
    const RunnerSample* s = ScoreOf(prompt, scored, i);
    if (!s) {
      out.emplace_back(std::nullopt);
      continue;
    }
    std::vector<RankedLogprob> entry;
    entry.push_back({s->token, s->logprob, s->rank, One(tokenizer, s->token)});
    const size_t k = std::min<size_t>(s->top.size(), static_cast<size_t>(std::max(top, 0)));
    for (size_t a = 0; a < k; ++a) {
      const auto& [id, lp] = s->top[a];
      entry.push_back({id, lp, static_cast<int>(a) + 1, One(tokenizer, id)});
    }
    out.emplace_back(std::move(entry));
  }
  return out;
}

}  // namespace modelcar::serve
