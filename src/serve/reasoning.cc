#include "serve/reasoning.h"

#include <algorithm>

namespace modelcar::serve {
namespace {

constexpr std::string_view kStart = "<think>";
constexpr std::string_view kEnd = "</think>";

// Length of the longest suffix of `s` that is a proper prefix of `tag`.
size_t PartialSuffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

Result<std::shared_ptr<const ReasoningParser>> ReasoningParser::Create(
    std::string_view name, const llm::Tokenizer& tokenizer) {
  auto p = std::make_shared<ReasoningParser>();
  p->name_ = std::string(name);
  if (name == "qwen3") {
    p->starts_in_reasoning_ = false;
  } else if (name == "deepseek_r1") {
    p->starts_in_reasoning_ = true;
  } else {
    return InvalidArgument("--reasoning-parser " + std::string(name) +
                           " is not supported (supported: qwen3, deepseek_r1)");
  }
  p->start_id_ = tokenizer.TokenId(std::string(kStart));
  p->end_id_ = tokenizer.TokenId(std::string(kEnd));
  if (p->start_id_ < 0 || p->end_id_ < 0) {
    return InvalidArgument("--reasoning-parser " + std::string(name) +
                           ": the tokenizer has no <think> and </think> tokens");
  }
  return std::shared_ptr<const ReasoningParser>(std::move(p));
}

ReasoningParser::Start ReasoningParser::StartFor(std::span<const int32_t> prompt) const {
  for (size_t i = prompt.size(); i-- > 0;) {
    if (prompt[i] == end_id_) return Start::kContent;
    if (prompt[i] == start_id_) return Start::kReasoning;
  }
  return starts_in_reasoning_ ? Start::kReasoning : Start::kDetect;
}

ReasoningSplitter::ReasoningSplitter(ReasoningParser::Start start)
    : mode_(start == ReasoningParser::Start::kContent     ? Mode::kContent
            : start == ReasoningParser::Start::kReasoning ? Mode::kReasoning
                                                          : Mode::kDetect) {}

ReasoningSplitter::Delta ReasoningSplitter::Append(std::string_view text) {
  Delta d;
  pending_ += text;
  while (!pending_.empty()) {
    if (mode_ == Mode::kContent) {
      d.content += pending_;
      pending_.clear();
      break;
    }
    if (mode_ == Mode::kDetect) {
      if (pending_.size() < kStart.size() && kStart.substr(0, pending_.size()) == pending_) break;
      mode_ = pending_.compare(0, kStart.size(), kStart) == 0 ? Mode::kReasoning : Mode::kContent;
      continue;
    }
    // Reasoning: drop a leading <think>, stop at </think>.
    if (at_start_) {
      if (pending_.size() < kStart.size() && kStart.substr(0, pending_.size()) == pending_) break;
      if (pending_.compare(0, kStart.size(), kStart) == 0) pending_.erase(0, kStart.size());
      at_start_ = false;
      continue;
    }
    size_t end = pending_.find(kEnd);
    if (end != std::string::npos) {
      d.reasoning += pending_.substr(0, end);
      pending_.erase(0, end + kEnd.size());
      mode_ = Mode::kContent;
      continue;
    }
    size_t keep = PartialSuffix(pending_, kEnd);
    d.reasoning += pending_.substr(0, pending_.size() - keep);
    pending_.erase(0, pending_.size() - keep);
    break;
  }
  return d;
}

ReasoningSplitter::Delta ReasoningSplitter::Finish() {
  Delta d;
  if (mode_ == Mode::kReasoning) {
    if (!(at_start_ && kStart.substr(0, pending_.size()) == pending_)) d.reasoning = pending_;
  } else {
    d.content = pending_;  // content, or an undecided prefix of <think>: text after all
  }
  pending_.clear();
  return d;
}

}  // namespace modelcar::serve
