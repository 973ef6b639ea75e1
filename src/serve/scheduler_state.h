// The scheduler's per-request and per-sequence state, shared by the scheduler's .cc files
// (scheduler.cc: admission, batching, delivery; scheduler_prefix.cc: prefix caching). Internal to
// serve/: only Scheduler's own code includes it.
//
// Thread safety: engine thread only, except Req::handle (thread-safe) and the fields of Req set
// before Submit() returns.
#ifndef MODELCAR_SERVE_SCHEDULER_STATE_H_
#define MODELCAR_SERVE_SCHEDULER_STATE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "serve/scheduler.h"

namespace modelcar::serve {

struct Scheduler::Req {
  GenerationRequest g;
  std::shared_ptr<RequestHandle> handle;
  std::chrono::steady_clock::time_point arrival;
  bool first_token_seen = false;
  int seqs_left = 0;
};

struct Scheduler::Seq {
  uint64_t id = 0;
  std::shared_ptr<Req> req;
  int index = 0;
  std::vector<int32_t> tokens;  // prompt + generated
  int prompt_len = 0;
  int computed = 0;  // positions in the KV cache
  bool done = false;
  std::optional<std::chrono::steady_clock::time_point> last_token;
  std::vector<RunnerSample> prompt_lp;  // scored prompt tokens 1..prompt_lp.size()
  std::unique_ptr<TokenConstraint> constraint;
  std::vector<int32_t> banned;  // this step's banned ids (logit_rules.h)
  int cached = -1;              // positions the first scheduling found cached (-1: not yet)

  int generated() const { return static_cast<int>(tokens.size()) - prompt_len; }
};

struct Scheduler::Batch {
  std::vector<RunnerFeed> feeds;
  std::vector<std::pair<Seq*, int>> fed;  // sequence, positions fed (as feeds)
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_SCHEDULER_STATE_H_
