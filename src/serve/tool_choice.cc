#include "serve/tool_choice.h"

#include <algorithm>
#include <array>
#include <memory>
#include <nlohmann/json.hpp>

namespace modelcar::serve {
namespace {

// What every constraint of one request shares: the forced strings and the candidate tokens
// (non-special, non-empty) grouped by their first byte.
struct Forced {
  const llm::Tokenizer* tokenizer;
  std::vector<std::string> prefixes;
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
    for (const std::string& p : f_->prefixes) {
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
    // A byte-level vocabulary always has the single-byte tokens; without them, no constraint.
    return any ? &allowed_ : nullptr;
  }

  bool Accept(int32_t token) override {
    std::string_view tb = f_->tokenizer->TokenBytes(token);
    if (free_) return scanner_.Feed(tb) != std::string_view::npos;
    gen_ += tb;
    for (const std::string& p : f_->prefixes) {
      if (gen_.size() >= p.size() && gen_.compare(0, p.size(), p) == 0) {
        free_ = true;
        return scanner_.Feed(std::string_view(gen_).substr(p.size())) != std::string_view::npos;
      }
    }
    return false;
  }

 private:
  std::shared_ptr<const Forced> f_;
  std::string gen_;  // bytes generated while in the forced part
  bool free_ = false;
  JsonObjectScanner scanner_;
  TokenMask allowed_;
};

}  // namespace

std::string ForcedToolCallPrefix(std::string_view name) {
  std::string quoted = nlohmann::json(std::string(name)).dump();  // "name", escaped
  return "<tool_call>\n{\"name\": " + quoted + ", \"arguments\": {";
}

size_t JsonObjectScanner::Feed(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size() && depth_ > 0; ++i) {
    const char c = bytes[i];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
    } else if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

TokenConstraintFactory ToolCallConstraintFactory(const llm::Tokenizer& tokenizer,
                                                 std::vector<std::string> names) {
  auto f = std::make_shared<Forced>();
  f->tokenizer = &tokenizer;
  f->mask_words = (static_cast<size_t>(tokenizer.vocab_size()) + 63) / 64;
  std::array<bool, 256> needed{};
  for (const std::string& n : names) {
    f->prefixes.push_back(ForcedToolCallPrefix(n));
    for (unsigned char c : f->prefixes.back()) needed[c] = true;
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
  for (const std::string& n : names_) prefixes_.push_back(ForcedToolCallPrefix(n));
}

ForcedToolStreamer::Delta ForcedToolStreamer::Append(std::string_view text) {
  Delta d;
  if (started_) {
    if (scanner_.done()) return d;
    size_t n = scanner_.Feed(text);
    d.arguments = std::string(n == std::string_view::npos ? text : text.substr(0, n));
    call_.arguments += d.arguments;
    return d;
  }
  pending_ += text;
  for (size_t k = 0; k < names_.size(); ++k) {
    const std::string& p = prefixes_[k];
    if (pending_.size() < p.size() || pending_.compare(0, p.size(), p) != 0) continue;
    started_ = true;
    call_.id = RandomId("chatcmpl-tool-");
    call_.name = names_[k];
    std::string_view rest = std::string_view(pending_).substr(p.size());
    size_t n = scanner_.Feed(rest);
    call_.arguments = "{" + std::string(n == std::string_view::npos ? rest : rest.substr(0, n));
    d.start = call_;
    pending_.clear();
    break;
  }
  return d;
}

std::optional<ToolCall> ForcedToolStreamer::Finish() {
  if (started_ || !named_ || names_.empty()) return std::nullopt;
  started_ = true;
  call_.id = RandomId("chatcmpl-tool-");
  call_.name = names_[0];
  call_.arguments = "";
  return call_;
}

std::optional<ToolCall> ForcedToolStreamer::call() const {
  if (!started_) return std::nullopt;
  return call_;
}

}  // namespace modelcar::serve
