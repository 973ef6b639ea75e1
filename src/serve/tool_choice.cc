#include "serve/tool_choice.h"

#include <algorithm>
#include <array>
#include <memory>
#include <nlohmann/json.hpp>

namespace modelcar::serve {
namespace {

// What every constraint of one request shares: the forced strings (the first call's, and a further
// call's after the end of one) and the candidate tokens (non-special, non-empty) grouped by their
// first byte.
struct Forced {
  const llm::Tokenizer* tokenizer;
  std::vector<std::string> prefixes, next;
  std::vector<int32_t> end_ids;  // empty: one call
  std::array<std::vector<int32_t>, 256> by_first_byte;
  size_t mask_words = 0;
};

class ToolCallConstraint : public TokenConstraint {
 public:
  explicit ToolCallConstraint(std::shared_ptr<const Forced> f) : f_(std::move(f)) {}

  const TokenMask* Allowed() override {
    if (free_) return nullptr;
    allowed_.assign(f_->mask_words, 0);
    bool any = false;
    for (const std::string& p : between_ ? f_->next : f_->prefixes) {
      if (p.size() <= gen_.size() || p.compare(0, gen_.size(), gen_) != 0) continue;
      std::string_view rest = std::string_view(p).substr(gen_.size());
      for (int32_t id : f_->by_first_byte[static_cast<unsigned char>(rest[0])]) {
        std::string_view tb = f_->tokenizer->TokenBytes(id);
        bool ok = tb.size() <= rest.size() ? rest.substr(0, tb.size()) == tb
                                           : tb.substr(0, rest.size()) == rest;
        if (ok) {
          MaskAllow(&allowed_, id);
          any = true;
        }
      }
    }
    if (AtCallEnd()) {
      for (int32_t id : f_->end_ids) MaskAllow(&allowed_, id);
      any = true;
    }
    // A byte-level vocabulary always has the single-byte tokens; without them, no constraint.
    return any ? &allowed_ : nullptr;
  }

  bool Accept(int32_t token) override {
    if (AtCallEnd() &&
        std::find(f_->end_ids.begin(), f_->end_ids.end(), token) != f_->end_ids.end()) {
      return true;
    }
    std::string bytes(f_->tokenizer->TokenBytes(token));
    while (true) {
      if (free_) {
        const size_t n = scanner_.Feed(bytes);
        if (n == std::string_view::npos) return false;
        if (f_->end_ids.empty()) return true;  // one call: complete
        free_ = false;
        between_ = true;
        scanner_ = JsonObjectScanner();
        bytes.erase(0, n);
      }
      gen_ += bytes;
      const std::string* entered = nullptr;
      for (const std::string& p : between_ ? f_->next : f_->prefixes) {
        if (gen_.size() >= p.size() && gen_.compare(0, p.size(), p) == 0) entered = &p;
      }
      if (!entered) {
        // A free token that ran past the closing brace into bytes that cannot begin the call's
        // end: the output is complete, as with one call.
        return between_ && std::none_of(f_->next.begin(), f_->next.end(), [&](const auto& p) {
                 return p.compare(0, gen_.size(), gen_) == 0;
               });
      }
      bytes = gen_.substr(entered->size());  // the start of the arguments
      gen_.clear();
      free_ = true;
      between_ = false;
    }
  }

 private:
  bool AtCallEnd() const { return between_ && gen_ == kToolCallEnd; }

  std::shared_ptr<const Forced> f_;
  std::string gen_;       // bytes generated in the current forced part
  bool free_ = false;     // in a call's arguments
  bool between_ = false;  // after a call: its end, then the end of the output or the next call
  JsonObjectScanner scanner_;
  TokenMask allowed_;
};

}  // namespace

std::string ForcedToolCallPrefix(std::string_view name) {
  std::string quoted = nlohmann::json(std::string(name)).dump();  // "name", escaped
  return "<tool_call>\n{\"name\": " + quoted + ", \"arguments\": {";
}

TokenConstraintFactory ToolCallConstraintFactory(const llm::Tokenizer& tokenizer,
                                                 std::vector<std::string> names,
                                                 std::vector<int32_t> end_ids) {
  auto f = std::make_shared<Forced>();
  f->tokenizer = &tokenizer;
  f->mask_words = (static_cast<size_t>(tokenizer.vocab_size()) + 63) / 64;
  f->end_ids = std::move(end_ids);
  std::array<bool, 256> needed{};
  for (const std::string& n : names) {
    f->prefixes.push_back(ForcedToolCallPrefix(n));
    f->next.push_back(std::string(kToolCallEnd) + "\n" + f->prefixes.back());
    for (unsigned char c : f->next.back()) needed[c] = true;
  }
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    std::string_view tb = tokenizer.TokenBytes(id);
    if (tb.empty() || tokenizer.IsSpecial(id)) continue;
    unsigned char first = static_cast<unsigned char>(tb[0]);
    if (needed[first]) f->by_first_byte[first].push_back(id);
  }
  std::shared_ptr<const Forced> shared = std::move(f);
  return [shared]() -> std::unique_ptr<TokenConstraint> {
    return std::make_unique<ToolCallConstraint>(shared);
  };
}

ForcedToolStreamer::ForcedToolStreamer(std::vector<std::string> names, bool named)
    : names_(std::move(names)), named_(named) {
  for (const std::string& n : names_) {
    prefixes_.push_back(ForcedToolCallPrefix(n));
    next_.push_back(std::string(kToolCallEnd) + "\n" + prefixes_.back());
  }
}

ForcedToolStreamer::Delta ForcedToolStreamer::Append(std::string_view text) {
  Delta d;
  const bool continuing = in_arguments_;  // text for a call that began before
  d.arguments_index = static_cast<int>(calls_.size()) - 1;
  d.first_started = static_cast<int>(calls_.size());
  std::string buf;  // the text after a call's prefix
  std::string_view rest = text;
  while (!rest.empty()) {
    if (in_arguments_) {
      const size_t n = scanner_.Feed(rest);
      const std::string_view piece = n == std::string_view::npos ? rest : rest.substr(0, n);
      calls_.back().arguments += piece;
      if (continuing && static_cast<int>(calls_.size()) == d.first_started) d.arguments += piece;
      if (n == std::string_view::npos) break;
      in_arguments_ = false;
      rest = rest.substr(n);
      continue;
    }
    pending_ += rest;
    rest = {};
    const std::vector<std::string>& prefixes = calls_.empty() ? prefixes_ : next_;
    for (size_t k = 0; k < names_.size(); ++k) {
      const std::string& p = prefixes[k];
      if (pending_.size() < p.size() || pending_.compare(0, p.size(), p) != 0) continue;
      ToolCall& call = calls_.emplace_back();
      call.id = RandomId("chatcmpl-tool-");
      call.name = names_[k];
      call.arguments = "{";
      in_arguments_ = true;
      scanner_ = JsonObjectScanner();
      buf = pending_.substr(p.size());
      pending_.clear();
      rest = buf;
      break;
    }
  }
  d.started.assign(calls_.begin() + d.first_started, calls_.end());
  return d;
}

std::optional<ToolCall> ForcedToolStreamer::Finish() {
  if (!calls_.empty() || !named_ || names_.empty()) return std::nullopt;
  ToolCall& call = calls_.emplace_back();
  call.id = RandomId("chatcmpl-tool-");
  call.name = names_[0];
  call.arguments = "";
  return call;
}

}  // namespace modelcar::serve
