#include "serve/scheduler.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/log.h"
#include "serve/logit_rules.h"
#include "serve/scheduler_state.h"

namespace modelcar::serve {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

// ---- RequestHandle ----

bool RequestHandle::Next(std::vector<TokenEvent>* out, std::chrono::milliseconds timeout) {
  out->clear();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !events_.empty() || seqs_ == 0; });
  while (!events_.empty()) {
    out->push_back(std::move(events_.front()));
    events_.pop_front();
  }
  return !out->empty() || seqs_ > 0;
}

void RequestHandle::StopSequence(int index) {
  if (index >= 0 && index < static_cast<int>(stop_.size())) stop_[index] = true;
}

void RequestHandle::Push(TokenEvent event) {
  {
    std::lock_guard lock(mu_);
    if (event.finish) --seqs_;
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

// ---- Scheduler ----

Scheduler::Scheduler(ModelRunner* runner, Metrics* metrics, SchedulerOptions options)
    : runner_(runner), metrics_(metrics), options_(options), seed_rng_(options.seed.value_or(0)) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The engine thread is gone: end what is left.
  for (auto& s : running_) {
    if (!s->done) {
      TokenEvent ev;
      ev.index = s->index;
      ev.finish = FinishReason::kAbort;
      s->done = true;
      runner_->RemoveSequence(s->id);
      s->req->handle->Push(std::move(ev));
    }
  }
  running_.clear();
  std::lock_guard lock(mu_);
  for (auto& r : waiting_) {
    for (int i = 0; i < r->g.sampling.n; ++i) {
      TokenEvent ev;
      ev.index = i;
      ev.finish = FinishReason::kAbort;
      r->handle->Push(std::move(ev));
    }
  }
  waiting_.clear();
}

Result<std::shared_ptr<RequestHandle>> Scheduler::Submit(GenerationRequest g) {
  if (g.prompt.empty()) return InvalidArgument("the prompt is empty");
  if (!g.sampling.max_tokens) return InvalidArgument("max_tokens is not set");
  if (static_cast<int64_t>(g.prompt.size()) + *g.sampling.max_tokens > options_.max_model_len) {
    return InvalidArgument("prompt + max_tokens exceeds max_model_len");
  }
  if (g.sampling.n < 1 || g.sampling.n > options_.max_num_seqs) {
    return InvalidArgument(
        fmt::format("n must be between 1 and max_num_seqs ({})", options_.max_num_seqs));
  }
  auto req = std::make_shared<Req>();
  req->handle = std::make_shared<RequestHandle>(g.sampling.n);
  req->seqs_left = g.sampling.n;
  req->arrival = Clock::now();
  req->g = std::move(g);
  int waiting = 0;  // stats_ is read under mu_ only (Publish does the same)
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Unavailable("the server is shutting down");
    if (static_cast<int>(waiting_.size()) >= options_.max_waiting) DropCancelledLocked();
    if (static_cast<int>(waiting_.size()) >= options_.max_waiting) {
      return Unavailable(fmt::format(
          "The server is overloaded: {} requests are waiting; retry later", waiting_.size()));
    }
    waiting_.push_back(req);
    waiting = stats_.waiting = static_cast<int>(waiting_.size());
  }
  if (metrics_) metrics_->SetWaiting(waiting);
  cv_.notify_all();
  return req->handle;
}

SchedulerStats Scheduler::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Scheduler::Loop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !waiting_.empty() || !running_.empty(); });
      if (stopping_) return;
    }
    if (!StepOnce()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    Publish();
  }
}

void Scheduler::Publish() {
  int total = runner_->TotalBlocks();
  double usage = total > 0 ? 1.0 - double(runner_->FreeBlocks()) / total : 0.0;
  int running = static_cast<int>(running_.size());
  int waiting;
  {
    std::lock_guard lock(mu_);
    stats_.running = running;
    stats_.kv_usage = usage;
    waiting = stats_.waiting = static_cast<int>(waiting_.size());
  }
  if (metrics_) {
    metrics_->SetRunning(running);
    metrics_->SetWaiting(waiting);
    metrics_->SetKvUsage(usage);
  }
}

void Scheduler::Finish(Seq& s, FinishReason reason, std::optional<int32_t> stop_token,
                       bool notify) {
  if (s.done) return;
  s.done = true;
  runner_->RemoveSequence(s.id);
  if (notify) {
    TokenEvent ev;
    ev.index = s.index;
    ev.finish = reason;
    ev.stop_token = stop_token;
    s.req->handle->Push(std::move(ev));
  }
  if (--s.req->seqs_left == 0 && metrics_) {
    metrics_->ObserveE2eLatency(Seconds(Clock::now() - s.req->arrival));
    metrics_->CountFinished(reason);
  }
}

void Scheduler::Reap() {
  for (auto& s : running_) {
    if (s->done) continue;
    if (s->req->handle->cancelled()) {
      Finish(*s, FinishReason::kAbort, std::nullopt, true);
    } else if (s->req->handle->stop_requested(s->index)) {
      Finish(*s, FinishReason::kStop, std::nullopt, true);
    }
  }
  std::erase_if(running_, [](const std::unique_ptr<Seq>& s) { return s->done; });
}

void Scheduler::DropCancelledLocked() {
  std::erase_if(waiting_, [this](const std::shared_ptr<Req>& req) {
    if (!req->handle->cancelled()) return false;
    for (int i = 0; i < req->g.sampling.n; ++i) {
      TokenEvent ev;
      ev.index = i;
      ev.finish = FinishReason::kAbort;
      req->handle->Push(std::move(ev));
    }
    if (metrics_) metrics_->CountFinished(FinishReason::kAbort);
    return true;
  });
}

void Scheduler::Admit() {
  const int bt = runner_->BlockTokens();
  std::lock_guard lock(mu_);
  DropCancelledLocked();
  int free = runner_->FreeBlocks();
  while (!waiting_.empty()) {
    std::shared_ptr<Req> req = waiting_.front();
    int n = req->g.sampling.n;
    if (static_cast<int>(running_.size()) + n > options_.max_num_seqs) break;
    // Each sequence shares the cached blocks and needs its own for the first chunk after them;
    // choices that share the prompt need their last block only (taken after the first's chunks).
    const CachedPrefix hit = FindCachedPrefix(*req);
    int first_end = std::min<int>(static_cast<int>(req->g.prompt.size()) + 1,
                                  hit.tokens + options_.max_num_batched_tokens);
    const int own = (first_end + bt - 1) / bt - hit.blocks;
    int need = (SharesPrompt(*req) ? own + (n - 1) : n * own) + hit.revived;
    if (!running_.empty() && need > free) break;
    free -= need;
    waiting_.pop_front();
    for (int i = 0; i < n; ++i) {
      auto s = std::make_unique<Seq>();
      s->id = next_seq_id_++;
      s->req = req;
      s->index = i;
      s->tokens = req->g.prompt;
      s->prompt_len = static_cast<int>(req->g.prompt.size());
      SamplingOptions so = req->g.sampling;
      if (!so.seed && options_.seed) so.seed = seed_rng_();
      // n > 1 with a seed: each choice gets its own stream of random numbers.
      if (so.seed && i > 0) *so.seed += static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull;
      if (req->g.constraint) s->constraint = req->g.constraint();
      Status st = runner_->AddSequence(s->id, so, req->g.prompt);
      if (!st.ok()) {
        LogError("serve: cannot start a sequence: {}", st.ToString());
        s->done = true;
        TokenEvent ev;
        ev.index = i;
        ev.finish = FinishReason::kAbort;
        req->handle->Push(std::move(ev));
        if (--req->seqs_left == 0 && metrics_) metrics_->CountFinished(FinishReason::kAbort);
        continue;
      }
      running_.push_back(std::move(s));
    }
  }
}

// One step: drop what ended, admit what fits, plan the batch, run it, hand out the samples.
bool Scheduler::StepOnce() {
  Reap();
  Admit();
  if (running_.empty()) return false;
  const Batch batch = PlanBatch();
  if (batch.feeds.empty()) return false;

  std::vector<RunnerSample> out;
  Status st = runner_->Step(batch.feeds, &out);
  if (st.ok()) {
    Deliver(batch, out);
  } else {
    LogError("serve: engine step failed: {}", st.ToString());
    for (auto& [s, n] : batch.fed) Finish(*s, FinishReason::kAbort, std::nullopt, true);
  }
  std::erase_if(running_, [](const std::unique_ptr<Seq>& s) { return s->done; });
  return true;
}

Scheduler::Batch Scheduler::PlanBatch() {
  // Blocks this step's feeds will take (the runner reserves them when it runs the step). Free
  // blocks are read from the runner after each change (a cached prefix taken, a preemption),
  // since blocks shared with other sequences free nothing.
  int claimed = 0;
  int budget = options_.max_num_batched_tokens;
  Batch batch;
  std::vector<bool> in_batch(running_.size(), false);
  for (int pass = 0; pass < 2; ++pass) {  // decodes first, then prefill chunks
    for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
      Seq& s = *running_[i];
      if (WaitsForSibling(i)) continue;
      AttachCachedPrefix(s, runner_->FreeBlocks() - claimed);
      const int remaining = static_cast<int>(s.tokens.size()) - s.computed;
      const bool decode = remaining == 1;
      if (s.done || remaining <= 0 || decode != (pass == 0)) continue;
      int need = 0;
      const int n = FitChunk(i, std::min(remaining, budget), decode, in_batch, claimed, &need);
      if (n <= 0) continue;
      claimed += need;
      budget -= n;
      in_batch[i] = true;
      batch.feeds.push_back(FeedOf(s, n));
      batch.fed.emplace_back(&s, n);
    }
  }
  return batch;
}

int Scheduler::FitChunk(size_t i, int n, bool decode, const std::vector<bool>& in_batch,
                        int claimed, int* need) {
  const int bt = runner_->BlockTokens();
  auto blocks = [bt](int positions) { return (positions + bt - 1) / bt; };
  auto free = [&] { return runner_->FreeBlocks() - claimed; };
  const Seq& s = *running_[i];
  *need = blocks(s.computed + n) - blocks(s.computed);
  // Preempt the youngest sequences outside this batch until the chunk fits.
  for (size_t j = running_.size(); *need > free() && j-- > i + 1;) {
    Seq& v = *running_[j];
    if (in_batch[j] || v.computed == 0 || v.done) continue;
    Preempt(v);
  }
  if (*need <= free()) return n;
  // Shrink a prefill chunk to the room left; a decode waits for a later step.
  const int room = blocks(s.computed) * bt - s.computed + free() * bt;
  n = std::min(n, room);
  if (decode || n <= 0) return 0;
  *need = blocks(s.computed + n) - blocks(s.computed);
  return n;
}

void Scheduler::Preempt(Seq& s) {
  runner_->ClearKv(s.id);
  s.computed = 0;
  s.prompt_lp.clear();  // scored again if not yet delivered
  if (metrics_) metrics_->AddPreemption();
}

RunnerFeed Scheduler::FeedOf(Seq& s, int n) {
  const bool sample = s.computed + n == static_cast<int>(s.tokens.size());
  RunnerFeed feed;
  feed.seq = s.id;
  feed.tokens = std::span<const int32_t>(s.tokens.data() + s.computed, n);
  feed.sample = sample;
  if (sample && s.constraint) feed.allowed = s.constraint->Allowed();
  if (sample && HasBans(s.req->g.sampling)) {
    BannedTokens(s.req->g.sampling, s.req->g.eos_token_ids,
                 std::span<const int32_t>(s.tokens).subspan(s.prompt_len), &s.banned);
    feed.banned = s.banned;
  }
  const int score_top = s.req->g.sampling.prompt_logprobs;
  if (score_top >= 0 && s.generated() == 0 && static_cast<int>(s.prompt_lp.size()) == s.computed) {
    // Fed position p predicts prompt token p + 1.
    const int count = std::min(s.computed + n, s.prompt_len - 1) - s.computed;
    if (count > 0) {
      feed.score = std::span<const int32_t>(s.tokens.data() + s.computed + 1, count);
      feed.score_top = score_top;
      feed.scored = &s.prompt_lp;
    }
  }
  return feed;
}

void Scheduler::Deliver(const Batch& batch, std::vector<RunnerSample>& out) {
  const auto now = Clock::now();
  size_t k = 0;
  for (size_t f = 0; f < batch.fed.size(); ++f) {
    Seq& s = *batch.fed[f].first;
    s.computed += batch.fed[f].second;
    if (!batch.feeds[f].sample) continue;
    if (k >= out.size()) break;  // runner broke its contract; treated as no sample
    DeliverToken(s, std::move(out[k++]), now);
  }
}

void Scheduler::DeliverToken(Seq& s, RunnerSample sample, Clock::time_point now) {
  const bool first = s.generated() == 0;
  s.tokens.push_back(sample.token);
  if (metrics_) {
    if (first) metrics_->AddPromptTokens(s.prompt_len);
    metrics_->AddGenerationTokens(1);
    if (!s.req->first_token_seen) metrics_->ObserveTimeToFirstToken(Seconds(now - s.req->arrival));
    if (s.last_token) metrics_->ObserveInterTokenLatency(Seconds(now - *s.last_token));
  }
  s.req->first_token_seen = true;
  s.last_token = now;

  TokenEvent ev;
  ev.index = s.index;
  ev.has_token = true;
  ev.sample = sample;
  if (first && s.req->g.sampling.prompt_logprobs >= 0) ev.prompt_logprobs = std::move(s.prompt_lp);
  if (first) ev.cached_tokens = std::max(s.cached, 0);
  SetFinish(s, sample.token, &ev);
  const std::optional<FinishReason> finish = ev.finish;
  const std::optional<int32_t> stop_token = ev.stop_token;
  s.req->handle->Push(std::move(ev));
  if (finish) Finish(s, *finish, stop_token, /*notify=*/false);
}

void Scheduler::SetFinish(Seq& s, int32_t token, TokenEvent* ev) {
  const GenerationRequest& g = s.req->g;
  const SamplingOptions& sp = g.sampling;
  const bool is_stop_id = std::find(sp.stop_token_ids.begin(), sp.stop_token_ids.end(), token) !=
                          sp.stop_token_ids.end();
  const bool is_eos = !sp.ignore_eos && std::find(g.eos_token_ids.begin(), g.eos_token_ids.end(),
                                                  token) != g.eos_token_ids.end();
  const bool constraint_done = s.constraint && s.constraint->Accept(token);
  if (constraint_done) {
    ev->finish = FinishReason::kStop;
  } else if ((is_stop_id || is_eos) && s.generated() >= sp.min_tokens) {
    ev->finish = FinishReason::kStop;
    if (is_stop_id && !is_eos) ev->stop_token = token;
  } else if (s.generated() >= *sp.max_tokens ||
             static_cast<int>(s.tokens.size()) >= options_.max_model_len) {
    ev->finish = FinishReason::kLength;
  }
}

}  // namespace modelcar::serve
