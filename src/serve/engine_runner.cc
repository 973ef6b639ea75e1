#include "serve/engine_runner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "llm/engine/engine.h"

namespace modelcar::serve {

RunnerSample ScoreToken(std::span<const float> logits, int32_t token, int top) {
  std::vector<llm::TokenLogprob> alts;
  RunnerSample s;
  s.token = token;
  s.logprob = llm::LogSoftmaxAt(logits, token, top, &alts);
  const float x = logits[token];
  s.rank = 1 + static_cast<int>(
                   std::count_if(logits.begin(), logits.end(), [x](float v) { return v > x; }));
  s.top.reserve(alts.size());
  for (const auto& a : alts) s.top.emplace_back(a.token, a.logprob);
  return s;
}

struct EngineRunner::SeqState {
  std::unique_ptr<llm::KvSequence> kv;
  std::unique_ptr<llm::Sampler> sampler;
  int logprobs = -1;  // alternatives asked (-1: none)
  std::vector<std::pair<int32_t, float>> logit_bias;
  std::vector<int32_t> allowed_token_ids;  // sorted; empty: all
};

namespace {

// vLLM's logits processors after the raw logprobs: allowed_token_ids, banned ids, logit_bias.
// Returns false (and leaves `work` alone) when none applies.
bool Adjust(std::span<const float> logits, const std::vector<std::pair<int32_t, float>>& bias,
            const std::vector<int32_t>& allowed, std::span<const int32_t> banned,
            std::vector<float>* work) {
  if (bias.empty() && allowed.empty() && banned.empty()) return false;
  const float kNegInf = -std::numeric_limits<float>::infinity();
  const size_t vocab = logits.size();
  if (allowed.empty()) {
    work->assign(logits.begin(), logits.end());
  } else {
    work->assign(vocab, kNegInf);
    for (int32_t id : allowed) {
      if (id >= 0 && static_cast<size_t>(id) < vocab) (*work)[id] = logits[id];
    }
  }
  for (int32_t id : banned) {
    if (id >= 0 && static_cast<size_t>(id) < vocab) (*work)[id] = kNegInf;
  }
  for (const auto& [id, b] : bias) {
    if (id >= 0 && static_cast<size_t>(id) < vocab) (*work)[id] += b;
  }
  // Nothing left to sample (e.g. min_tokens bans the EOS a finished grammar allows): the
  // processors give way rather than leave the sampler no token.
  return std::any_of(work->begin(), work->end(), [](float x) { return x != -INFINITY; });
}

}  // namespace

Result<std::unique_ptr<EngineRunner>> EngineRunner::Create(std::shared_ptr<const llm::Model> model,
                                                           uint64_t kv_cache_bytes, int threads,
                                                           llm::Precision precision,
                                                           bool prefix_caching) {
  std::unique_ptr<EngineRunner> r(new EngineRunner());
  r->engine_ = std::make_unique<llm::Engine>(model, llm::EngineOptions{threads, precision});
  ASSIGN_OR_RETURN(r->cache_, llm::KvCache::Create(model->config, kv_cache_bytes, 16,
                                                   r->engine_->kv_dtype(), prefix_caching));
  r->model_ = std::move(model);
  return r;
}

EngineRunner::~EngineRunner() {
  seqs_.clear();  // sequences go before their cache
}

int EngineRunner::BlockTokens() const { return cache_->block_tokens(); }
int EngineRunner::TotalBlocks() const { return cache_->TotalBlocks(); }
int EngineRunner::FreeBlocks() const { return cache_->FreeBlocks(); }
uint64_t EngineRunner::BytesPerToken() const { return cache_->BytesPerToken(); }

Status EngineRunner::AddSequence(uint64_t seq, const SamplingOptions& s,
                                 std::span<const int32_t> prompt) {
  llm::SamplingParams p;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.min_p = s.min_p;
  p.repetition_penalty = s.repetition_penalty;
  p.presence_penalty = s.presence_penalty;
  p.frequency_penalty = s.frequency_penalty;
  p.seed = s.seed;
  p.logprobs = s.logprobs;  // -1: none asked
  RETURN_IF_ERROR(llm::ValidateSamplingParams(p));
  auto st = std::make_unique<SeqState>();
  st->kv = cache_->NewSequence();
  st->sampler = std::make_unique<llm::Sampler>(p, prompt);
  st->logprobs = s.logprobs;
  st->logit_bias = s.logit_bias;
  st->allowed_token_ids = s.allowed_token_ids;
  seqs_[seq] = std::move(st);
  return Status();
}

void EngineRunner::ClearKv(uint64_t seq) {
  auto it = seqs_.find(seq);
  if (it != seqs_.end()) it->second->kv->Clear();
}

void EngineRunner::RemoveSequence(uint64_t seq) { seqs_.erase(seq); }

CachedPrefix EngineRunner::FindPrefix(std::span<const int32_t> tokens, int max_tokens) const {
  const llm::PrefixHit hit = cache_->FindPrefix(tokens, max_tokens);
  return {hit.tokens, hit.blocks, hit.revived};
}

int EngineRunner::AttachPrefix(uint64_t seq, std::span<const int32_t> tokens, int max_tokens) {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : cache_->AttachPrefix(it->second->kv.get(), tokens, max_tokens);
}

Status EngineRunner::Step(std::span<const RunnerFeed> feeds, std::vector<RunnerSample>* out) {
  std::vector<llm::StepInput> in(feeds.size());
  std::vector<llm::StepOutput> res(feeds.size());
  std::vector<SeqState*> states(feeds.size());
  for (size_t i = 0; i < feeds.size(); ++i) {
    auto it = seqs_.find(feeds[i].seq);
    if (it == seqs_.end()) return Internal("step for an unknown sequence");
    states[i] = it->second.get();
    in[i].seq = states[i]->kv.get();
    in[i].tokens = feeds[i].tokens;
    if (!feeds[i].score.empty()) {
      if (feeds[i].score.size() > feeds[i].tokens.size() || !feeds[i].scored) {
        return Internal("step: bad prompt scoring request");
      }
      in[i].all_logits = true;
    }
  }
  RETURN_IF_ERROR(engine_->Step(in, res));
  // Scoring and sampling of each sequence are independent: spread over the engine's threads.
  const size_t vocab = static_cast<size_t>(engine_->vocab_size());
  std::vector<std::optional<RunnerSample>> sampled(feeds.size());
  engine_->ParallelFor(static_cast<int>(feeds.size()), [&](int i) {
    std::span<const float> logits(res[i].logits);
    for (size_t j = 0; j < feeds[i].score.size(); ++j) {
      feeds[i].scored->push_back(
          ScoreToken(logits.subspan(j * vocab, vocab), feeds[i].score[j], feeds[i].score_top));
    }
    if (!feeds[i].sample) return;
    std::span<const float> last = logits.subspan(logits.size() - vocab);
    std::vector<float> masked;
    if (feeds[i].allowed) {
      masked.assign(vocab, -std::numeric_limits<float>::infinity());
      const TokenMask& m = *feeds[i].allowed;
      for (size_t w = 0; w < m.size(); ++w) {
        for (uint64_t bits = m[w]; bits; bits &= bits - 1) {
          const size_t id = w * 64 + __builtin_ctzll(bits);
          if (id < vocab) masked[id] = last[id];
        }
      }
      last = masked;
    }
    SeqState& st = *states[i];
    std::vector<float> adjusted;
    const bool adjust =
        Adjust(last, st.logit_bias, st.allowed_token_ids, feeds[i].banned, &adjusted);
    llm::SampledToken t = st.sampler->Sample(adjust ? std::span<const float>(adjusted) : last);
    if (adjust && st.logprobs >= 0) {
      // The reported logprobs stay those of the distribution before the processors (vLLM's
      // raw logprobs).
      t.top.clear();
      t.logprob = llm::LogSoftmaxAt(last, t.token, st.logprobs > 0 ? st.logprobs : 0, &t.top);
    }
    RunnerSample& s = sampled[i].emplace();
    s.token = t.token;
    s.logprob = t.logprob;
    s.top.reserve(t.top.size());
    for (const auto& a : t.top) s.top.emplace_back(a.token, a.logprob);
  });
  for (auto& s : sampled) {
    if (s) out->push_back(std::move(*s));
  }
  return Status();
}

}  // namespace modelcar::serve
