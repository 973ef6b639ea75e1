#include "serve/choice_output.h"

#include <fmt/format.h>

namespace modelcar::serve {

ChoiceOutput::ChoiceOutput(const llm::Tokenizer& tokenizer, const SamplingOptions& sampling)
    : tokenizer_(tokenizer),
      decoder_(tokenizer, sampling.skip_special_tokens),
      stop_(sampling.stop, sampling.include_stop_str_in_output),
      want_logprobs_(sampling.logprobs >= 0),
      tokens_as_ids_(sampling.logprob_tokens_as_ids) {}

ChoiceOutput::Delta ChoiceOutput::Consume(const TokenEvent& ev) {
  Delta d;
  if (finished_) return d;
  std::string piece;
  d.prompt_logprobs = ev.prompt_logprobs;
  if (ev.has_token) {
    ++tokens_;
    ids_.push_back(ev.sample.token);
    d.token_ids.push_back(ev.sample.token);
    if (want_logprobs_) {
      auto text = [&](int32_t id) {
        return tokens_as_ids_ ? fmt::format("token_id:{}", id)
                              : tokenizer_.Decode(std::span<const int32_t>(&id, 1));
      };
      TokenLogprob lp;
      lp.token = text(ev.sample.token);
      lp.logprob = ev.sample.logprob;
      lp.text_offset = offset_base_ + static_cast<int>(released_);
      for (const auto& [tok, logprob] : ev.sample.top) lp.top.push_back({text(tok), logprob});
      d.logprobs.push_back(std::move(lp));
    }
    piece = decoder_.Push(ev.sample.token);
  }
  if (ev.finish) piece += decoder_.Finish();
  released_ += piece.size();
  std::optional<std::string> matched;
  d.text = stop_.Append(piece, &matched);
  if (matched) {
    d.finish = Finish{FinishReason::kStop, matched, std::nullopt};
  } else if (ev.finish) {
    d.text += stop_.Flush();
    d.finish = Finish{*ev.finish, std::nullopt, ev.stop_token};
  }
  if (d.finish) finished_ = true;
  text_ += d.text;
  return d;
}

}  // namespace modelcar::serve
