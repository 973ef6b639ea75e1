// A running generation seen from its HTTP thread: one RequestHandle per prompt, n choices each,
// a ChoiceOutput per choice. Run() pumps token events into the caller's callback until every
// choice has finished, the client went away (the callback or heartbeat returns false) or the
// server stops. Destroying a session that has not finished cancels its requests, so the
// scheduler frees their KV blocks.
//
// Thread-compatible: owned and used by one HTTP worker thread.
#ifndef MODELCAR_SERVE_SESSION_H_
#define MODELCAR_SERVE_SESSION_H_

#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "serve/choice_output.h"
#include "serve/scheduler.h"

namespace modelcar::serve {

class Session {
 public:
  Session(const llm::Tokenizer& tokenizer, const SamplingOptions& sampling);
  ~Session();  // cancels unfinished requests
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Adds the handle of prompt number handles().size(); its choices get indexes
  // prompt * n .. prompt * n + n - 1.
  void Add(std::shared_ptr<RequestHandle> handle);

  // Called for each delta; `choice` is the global choice index. Return false to stop (client
  // gone): every request is then cancelled.
  using DeltaFn = std::function<bool(int choice, ChoiceOutput::Delta& delta)>;
  // Called about every `heartbeat_ms` while waiting; false stops like DeltaFn.
  using HeartbeatFn = std::function<bool()>;

  // Returns true when every choice finished, false when stopped early.
  bool Run(const DeltaFn& on_delta, const HeartbeatFn& heartbeat, int heartbeat_ms = 1000);

  // What a non-streaming answer needs of each choice besides its text.
  struct Collected {
    std::vector<std::vector<TokenLogprob>> logprobs;         // per choice, in order
    std::vector<Finish> finish;                              // per choice
    std::vector<std::vector<RunnerSample>> prompt_logprobs;  // per choice (when asked)
  };
  // Runs to the end collecting logprobs and finish reasons; `heartbeat` as for Run. Returns
  // nullopt when stopped early (client gone).
  std::optional<Collected> RunToEnd(const HeartbeatFn& heartbeat);

  ChoiceOutput& choice(int i) { return outputs_[i]; }
  int num_choices() const { return static_cast<int>(outputs_.size()); }
  int completion_tokens() const;
  // usage.prompt_tokens_details.cached_tokens as vLLM reports it. Each choice counts the prompt
  // positions its first scheduling found in the prefix cache; vLLM runs the n choices of a
  // prompt as n requests and reports one of them:
  // streamed, the choice whose first token came first (the stream's first output);
  int StreamedCachedTokens() const;
  // not streamed, the choice of the last prompt that finished last (the output that completes
  // that prompt's n choices is the one the usage reads).
  int FinalCachedTokens() const;
  void Cancel();

 private:
  const llm::Tokenizer& tokenizer_;
  SamplingOptions sampling_;
  std::vector<std::shared_ptr<RequestHandle>> handles_;
  std::vector<ChoiceOutput> outputs_;
  std::vector<int> cached_;         // per choice
  int first_choice_ = -1;           // the choice whose token came first
  std::vector<int> last_finished_;  // per handle: its choice that finished last (-1: none)
  bool done_ = false;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_SESSION_H_
