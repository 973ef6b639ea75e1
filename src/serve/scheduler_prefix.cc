// Scheduler: prefix caching (scheduler.h). A sequence about to be fed from position 0 takes the
// longest cached prefix of its tokens; the later choices of an n > 1 request wait for the first
// choice to compute the prompt's full blocks, then take them from the cache.
#include <algorithm>

#include "serve/scheduler.h"
#include "serve/scheduler_state.h"

namespace modelcar::serve {

CachedPrefix Scheduler::FindCachedPrefix(const Req& req) const {
  if (!options_.prefix_caching || req.g.sampling.prompt_logprobs >= 0) return {};
  return runner_->FindPrefix(req.g.prompt, static_cast<int>(req.g.prompt.size()) - 1);
}

bool Scheduler::SharesPrompt(const Req& req) const {
  return options_.prefix_caching && req.g.sampling.n > 1 && req.g.sampling.prompt_logprobs < 0;
}

bool Scheduler::WaitsForSibling(size_t i) const {
  const Seq& s = *running_[i];
  if (s.cached >= 0 || s.done || s.computed != 0 || !SharesPrompt(*s.req)) return false;
  // The full blocks this choice could take: all but the last prompt token, whole blocks.
  const int bt = runner_->BlockTokens();
  const int shareable = (s.prompt_len - 1) / bt * bt;
  if (shareable == 0) return false;
  // Choices of a request are admitted together, in index order, so earlier ones come first.
  for (size_t j = i; j-- > 0;) {
    const Seq& t = *running_[j];
    if (t.req != s.req || t.done || t.generated() > 0) continue;
    if (t.computed < shareable) return true;
  }
  return false;
}

void Scheduler::AttachCachedPrefix(Seq& s, int free_blocks) {
  if (s.computed != 0 || s.done) return;
  int got = 0;
  // Prompt logprobs are scored from fed positions: such a prompt is fed whole until scored.
  const bool scoring = s.req->g.sampling.prompt_logprobs >= 0 && s.generated() == 0;
  if (options_.prefix_caching && !scoring) {
    const int max_tokens = static_cast<int>(s.tokens.size()) - 1;
    // Free cached blocks taken back must not eat the blocks this step has promised to others.
    if (runner_->FindPrefix(s.tokens, max_tokens).revived > free_blocks) return;
    got = runner_->AttachPrefix(s.id, s.tokens, max_tokens);
    s.computed = got;
  }
  if (s.cached >= 0) return;
  s.cached = got;
  if (metrics_ && options_.prefix_caching && !scoring) {
    metrics_->AddPrefixCacheQuery(static_cast<int64_t>(s.tokens.size()), got);
  }
}

}  // namespace modelcar::serve
