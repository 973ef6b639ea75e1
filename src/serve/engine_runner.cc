#include "serve/engine_runner.h"

#include <algorithm>
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
};

Result<std::unique_ptr<EngineRunner>> EngineRunner::Create(std::shared_ptr<const llm::Model> model,
                                                           uint64_t kv_cache_bytes, int threads,
                                                           llm::Precision precision) {
  std::unique_ptr<EngineRunner> r(new EngineRunner());
  r->engine_ = std::make_unique<llm::Engine>(model, llm::EngineOptions{threads, precision});
  ASSIGN_OR_RETURN(r->cache_,
                   llm::KvCache::Create(model->config, kv_cache_bytes, 16, r->engine_->kv_dtype()));
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
  p.logprobs = s.logprobs > 0 ? s.logprobs : 0;
  RETURN_IF_ERROR(llm::ValidateSamplingParams(p));
  auto st = std::make_unique<SeqState>();
  st->kv = cache_->NewSequence();
  st->sampler = std::make_unique<llm::Sampler>(p, prompt);
  seqs_[seq] = std::move(st);
  return Status();
}

void EngineRunner::ClearKv(uint64_t seq) {
  auto it = seqs_.find(seq);
  if (it != seqs_.end()) it->second->kv->Clear();
}

void EngineRunner::RemoveSequence(uint64_t seq) { seqs_.erase(seq); }

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
      for (int32_t id : *feeds[i].allowed) {
        if (id >= 0 && static_cast<size_t>(id) < vocab) masked[id] = last[id];
      }
      last = masked;
    }
    llm::SampledToken t = states[i]->sampler->Sample(last);
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
