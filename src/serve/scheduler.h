// The engine thread: continuous batching over a ModelRunner.
//
// Every step the scheduler (1) drops cancelled sequences and frees their KV blocks, (2) admits
// waiting requests while the running batch has room (max_num_seqs) and the KV pool has blocks,
// (3) builds one batch: a decode token for every running sequence that has its prompt in the
// cache, then prefill chunks of waiting prompts up to max_num_batched_tokens positions (so a long
// prompt is spread over several steps and never stalls the decodes), (4) runs the step and hands
// each sampled token to its request. When the KV pool runs short, the youngest running sequence
// is preempted: its blocks are freed and it is fed again from the start later (vLLM's recompute
// preemption), keeping its generated tokens.
//
// Prefix caching (options.prefix_caching, with a runner that has it): a sequence about to be fed
// from position 0 (new, or preempted) first takes the longest cached prefix of its tokens from the
// runner (whole KV blocks, at most all but the last token, so at least one position is fed and
// gives logits) and is fed only the rest. Admission counts only the blocks a prompt does not find
// cached. Requests asking for prompt logprobs skip the cache until their prompt is scored (as
// vLLM). Every sequence's first lookup is counted in the metrics (prefix cache queries/hits) and
// reported with its first token (TokenEvent::cached_tokens). The n choices of a request share
// its prompt (vLLM's child requests meet the same blocks in its prefix cache): choices after the
// first are not fed until the first choice has computed the prompt's full blocks (it goes on
// with its first token meanwhile), then they take those blocks from the cache and are fed only
// the rest of the prompt (the last partial block, at least one token). So n choices cost one
// prefill of the prompt, and their cached_tokens are the shared positions. Without prefix
// caching every choice prefills the whole prompt, as in vLLM.
//
// Prompt logprobs (sampling.prompt_logprobs >= 0): prefill chunks ask the runner to score each
// prompt token from the logits of the position before it; the scores go out with the first
// generated token. A sequence preempted before that scores its prompt again from the start.
// Scoring makes the engine compute the logits of every position of the chunk: at most
// max_num_batched_tokens x vocab floats per step (about 311 MB for 512 x 151936).
//
// Requests enter through Submit() from any thread; a bounded waiting queue (max_waiting) turns
// overload into Unavailable at once. Each request has a RequestHandle: the HTTP thread reads
// token events from it and calls Cancel() when its client goes away.
//
// Thread safety: Submit(), Stats() and every RequestHandle method are thread-safe. The runner is
// used only by the engine thread, between Start() and Stop().
#ifndef MODELCAR_SERVE_SCHEDULER_H_
#define MODELCAR_SERVE_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "serve/finish_reason.h"
#include "serve/metrics.h"
#include "serve/model_runner.h"
#include "serve/request.h"
#include "serve/token_constraint.h"

namespace modelcar::serve {

struct SchedulerOptions {
  int max_model_len = 4096;
  int max_num_seqs = 64;             // sequences in the running batch
  int max_num_batched_tokens = 512;  // positions fed per step (decodes + prefill chunks)
  int max_waiting = 256;             // requests queued beyond that are refused (503)
  // Seeds the sequences of requests without a seed, in admission order (vLLM's --seed); unset:
  // random seeds.
  std::optional<uint64_t> seed;
  bool prefix_caching = false;  // look up cached prefixes (the runner must have them)
};

// One generated token of sequence `index` (0..n-1), or the end of that sequence.
struct TokenEvent {
  int index = 0;
  bool has_token = false;
  RunnerSample sample;
  // Set on the sequence's last event: kStop (EOS or a stop token; stop_token then holds a
  // stop_token_ids match), kLength or kAbort.
  std::optional<FinishReason> finish;
  std::optional<int32_t> stop_token;
  // With sampling.prompt_logprobs >= 0, on the sequence's first token event: the logprobs of
  // prompt tokens 1..prompt_len-1 (the first prompt token has none), in order.
  std::vector<RunnerSample> prompt_logprobs;
  // On the sequence's first token event: prompt positions its first scheduling found in the prefix
  // cache (0 without prefix caching).
  int cached_tokens = 0;
};

struct GenerationRequest {
  std::vector<int32_t> prompt;         // non-empty
  SamplingOptions sampling;            // n sequences; sampling.max_tokens must be set
  std::vector<int32_t> eos_token_ids;  // EOS ids of the model (ignored with ignore_eos)
  // Optional constrained decoding: one constraint per sequence; a sequence whose constraint
  // completes ends with "stop".
  TokenConstraintFactory constraint;
};

class RequestHandle {
 public:
  explicit RequestHandle(int n) : seqs_(n), stop_(n) {}

  // Waits up to `timeout` for events and moves them into `out` (cleared first). Returns false
  // when every sequence has finished and all events were read.
  bool Next(std::vector<TokenEvent>* out, std::chrono::milliseconds timeout);
  // The client went away: every sequence ends with "abort" and its KV blocks are freed.
  void Cancel() { cancelled_ = true; }
  // Ends sequence `index` early (a stop string matched); its KV blocks are freed. No further
  // events are delivered for it.
  void StopSequence(int index);

  bool cancelled() const { return cancelled_; }
  bool stop_requested(int index) const { return stop_[index].load(); }

  // Used by the scheduler.
  void Push(TokenEvent event);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TokenEvent> events_;
  int seqs_;  // sequences not yet finished (delivered)
  std::vector<std::atomic<bool>> stop_;
  std::atomic<bool> cancelled_{false};
};

struct SchedulerStats {
  int running = 0;  // sequences
  int waiting = 0;  // requests
  double kv_usage = 0;
};

class Scheduler {
 public:
  // `runner` and `metrics` (may be null) must outlive the scheduler.
  Scheduler(ModelRunner* runner, Metrics* metrics, SchedulerOptions options);
  ~Scheduler();  // Stop()s

  void Start();
  // Stops the engine thread; unfinished requests end with "abort".
  void Stop();

  // Queues a request. Unavailable when max_waiting requests are already waiting; InvalidArgument
  // for an empty prompt, a missing max_tokens or prompt + max_tokens > max_model_len.
  Result<std::shared_ptr<RequestHandle>> Submit(GenerationRequest request);

  SchedulerStats Stats() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Seq;
  struct Req;
  struct Batch;  // one step's feeds
  void Loop();
  bool StepOnce();  // false when there was nothing to do
  void Admit();
  // The step's batch: a decode for every sequence with its prompt in the cache, then prefill
  // chunks, within max_num_batched_tokens and the free KV blocks.
  Batch PlanBatch();
  // How many of `n` positions of running_[i] fit in the KV pool besides the `claimed` blocks,
  // after preempting younger sequences outside the batch if needed: n, a shorter prefill chunk,
  // or 0 (a decode that must wait). `need` gets the blocks the positions take.
  int FitChunk(size_t i, int n, bool decode, const std::vector<bool>& in_batch, int claimed,
               int* need);
  // Recompute preemption: frees the sequence's KV blocks; it is fed again from position 0.
  void Preempt(Seq& s);
  // The feed of `n` positions of `s`: sampling (constraint, bans) when they reach its end,
  // prompt scoring while its prompt logprobs are due.
  RunnerFeed FeedOf(Seq& s, int n);
  // Advances every fed sequence and hands each sample to its request.
  void Deliver(const Batch& batch, std::vector<RunnerSample>& out);
  void DeliverToken(Seq& s, RunnerSample sample, std::chrono::steady_clock::time_point now);
  // The end `token` (just appended to s) makes, if any: its constraint completed or an EOS /
  // stop id once min_tokens are out ("stop"; stop_token for a stop id that is not EOS), or
  // max_tokens / max_model_len reached ("length").
  void SetFinish(Seq& s, int32_t token, TokenEvent* ev);
  // Prefix caching: gives a sequence about to be fed from position 0 its cached prefix, unless
  // that takes more than `free_blocks` free blocks (then it waits or is fed from 0).
  void AttachCachedPrefix(Seq& s, int free_blocks);
  // What the prefix cache holds of `prompt` when a new sequence may use it.
  CachedPrefix FindCachedPrefix(const Req& req) const;
  // Whether the n choices of `req` share the prompt's blocks (prefix caching, n > 1, no prompt
  // logprobs): the first computes them, the others take them from the cache.
  bool SharesPrompt(const Req& req) const;
  // Whether running_[i], a choice not scheduled yet, waits this step because an earlier choice of
  // its request (which has no token yet) has not computed the prompt's full blocks.
  bool WaitsForSibling(size_t i) const;
  // Drops the waiting requests whose client went away (each gets its "abort" events), so they
  // neither wait for a slot nor count against max_waiting. REQUIRES: mu_ held.
  void DropCancelledLocked();
  void Finish(Seq& s, FinishReason reason, std::optional<int32_t> stop_token, bool notify);
  void Reap();
  void Publish();

  ModelRunner* runner_;
  Metrics* metrics_;
  SchedulerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Req>> waiting_;  // guarded by mu_
  bool stopping_ = false;                     // guarded by mu_
  SchedulerStats stats_;                      // guarded by mu_

  // Engine thread only.
  std::vector<std::unique_ptr<Seq>> running_;  // oldest first
  uint64_t next_seq_id_ = 1;
  std::mt19937_64 seed_rng_;  // for requests without a seed (options_.seed)
  std::thread thread_;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_SCHEDULER_H_
