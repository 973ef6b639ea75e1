#include "serve/session.h"

#include <algorithm>
#include <chrono>

namespace modelcar::serve {

Session::Session(const llm::Tokenizer& tokenizer, const SamplingOptions& sampling)
    : tokenizer_(tokenizer), sampling_(sampling) {}

Session::~Session() {
  if (!done_) Cancel();
}

void Session::Add(std::shared_ptr<RequestHandle> handle) {
  handles_.push_back(std::move(handle));
  last_finished_.push_back(-1);
  for (int i = 0; i < sampling_.n; ++i) {
    outputs_.emplace_back(tokenizer_, sampling_);
    cached_.push_back(0);
  }
}

int Session::StreamedCachedTokens() const {
  return first_choice_ < 0 ? 0 : cached_[first_choice_];
}

int Session::FinalCachedTokens() const {
  if (last_finished_.empty() || last_finished_.back() < 0) return 0;
  return cached_[last_finished_.back()];
}

void Session::Cancel() {
  for (auto& h : handles_) h->Cancel();
}

int Session::completion_tokens() const {
  int n = 0;
  for (const ChoiceOutput& o : outputs_) n += o.completion_tokens();
  return n;
}

bool Session::Run(const DeltaFn& on_delta, const HeartbeatFn& heartbeat, int heartbeat_ms) {
  using Clock = std::chrono::steady_clock;
  std::vector<bool> active(handles_.size(), true);
  size_t left = handles_.size();
  auto last_beat = Clock::now();
  std::vector<TokenEvent> events;
  const auto wait = std::chrono::milliseconds(handles_.size() == 1 ? 200 : 5);
  while (left > 0) {
    for (size_t h = 0; h < handles_.size(); ++h) {
      if (!active[h]) continue;
      if (!handles_[h]->Next(&events, wait)) {
        active[h] = false;
        --left;
        continue;
      }
      for (const TokenEvent& ev : events) {
        int index = static_cast<int>(h) * sampling_.n + ev.index;
        ChoiceOutput& out = outputs_[index];
        cached_[index] = std::max(cached_[index], ev.cached_tokens);
        if (ev.has_token && first_choice_ < 0) first_choice_ = index;
        if (out.finished()) continue;
        ChoiceOutput::Delta d = out.Consume(ev);
        if (d.finish) last_finished_[h] = index;
        if (d.finish && d.finish->stop_string) handles_[h]->StopSequence(ev.index);
        if (!on_delta(index, d)) {
          Cancel();
          done_ = true;
          return false;
        }
      }
    }
    if (Clock::now() - last_beat >= std::chrono::milliseconds(heartbeat_ms)) {
      last_beat = Clock::now();
      if (heartbeat && !heartbeat()) {
        Cancel();
        done_ = true;
        return false;
      }
    }
  }
  done_ = true;
  return true;
}

std::optional<Session::Collected> Session::RunToEnd(const HeartbeatFn& heartbeat) {
  Collected c;
  c.logprobs.resize(outputs_.size());
  c.finish.resize(outputs_.size());
  c.prompt_logprobs.resize(outputs_.size());
  bool completed = Run(
      [&](int i, ChoiceOutput::Delta& d) {
        for (auto& lp : d.logprobs) c.logprobs[i].push_back(std::move(lp));
        if (d.finish) c.finish[i] = *d.finish;
        if (!d.prompt_logprobs.empty()) c.prompt_logprobs[i] = std::move(d.prompt_logprobs);
        return true;
      },
      heartbeat);
  if (!completed) return std::nullopt;
  return c;
}

}  // namespace modelcar::serve
