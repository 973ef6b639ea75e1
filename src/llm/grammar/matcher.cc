#include "llm/grammar/matcher.h"

#include <algorithm>
#include <climits>
#include <numeric>

namespace modelcar::llm::grammar {
namespace {

// Beyond this many nested calls without reading a byte the grammar is left-recursive (rejected by
// the front ends) or absurd: the path is treated as dead.
constexpr int kMaxExpandDepth = 4096;

}  // namespace

TokenTrie::TokenTrie(const std::vector<std::string>& bytes)
    : vocab_size_(static_cast<int>(bytes.size())) {
  std::vector<int32_t> order;
  for (int32_t id = 0; id < vocab_size_; ++id) {
    if (!bytes[id].empty()) order.push_back(id);
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return bytes[a] < bytes[b]; });
  for (int32_t id : order) {
    const std::string& b = bytes[id];
    int32_t lcp = 0;
    if (!bytes_.empty()) {
      const std::string& prev = bytes_.back();
      while (lcp < static_cast<int32_t>(std::min(prev.size(), b.size())) && prev[lcp] == b[lcp]) {
        ++lcp;
      }
    }
    bytes_.push_back(b);
    ids_.push_back(id);
    lcp_.push_back(lcp);
    max_len_ = std::max(max_len_, static_cast<int>(b.size()));
  }
}

size_t GrammarRuntime::FrameHash::operator()(const Frame& f) const {
  uint64_t h = (uint64_t(uint32_t(f.rule)) << 40) ^ (uint64_t(uint32_t(f.state)) << 20) ^
               uint64_t(uint32_t(f.parent));
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  return static_cast<size_t>(h ^ (h >> 29));
}

size_t GrammarRuntime::KeyHash::operator()(const std::vector<int32_t>& v) const {
  uint64_t h = v.size();
  for (int32_t x : v) h = (h ^ uint32_t(x)) * 0x100000001b3ULL;
  return static_cast<size_t>(h);
}

GrammarRuntime::GrammarRuntime(std::shared_ptr<const CompiledGrammar> grammar,
                               size_t mask_budget_bytes)
    : grammar_(std::move(grammar)), mask_budget_(mask_budget_bytes) {
  std::lock_guard lock(mu_);
  const int root = grammar_->root();
  int f = InternFrame({root, grammar_->rule(root).start, -1});
  std::vector<int32_t> tops, seen;
  bool can_end = false;
  Expand(f, &tops, &can_end, &seen, 0);
  initial_ = InternState(std::move(tops), can_end);
}

int GrammarRuntime::InternFrame(Frame f) {
  auto [it, fresh] = frame_ids_.emplace(f, static_cast<int32_t>(frames_.size()));
  if (fresh) frames_.push_back(f);
  return it->second;
}

void GrammarRuntime::Expand(int32_t fi, std::vector<int32_t>* tops, bool* can_end,
                            std::vector<int32_t>* seen, int depth) {
  if (depth > kMaxExpandDepth) return;
  if (std::find(seen->begin(), seen->end(), fi) != seen->end()) return;
  seen->push_back(fi);
  const Frame f = frames_[fi];
  const Dfa& d = grammar_->rule(f.rule);
  if (d.has_bytes[f.state]) tops->push_back(fi);
  if (d.accept[f.state]) {
    if (f.parent < 0) {
      *can_end = true;
    } else {
      Expand(f.parent, tops, can_end, seen, depth + 1);
    }
  }
  for (const auto& [callee, after] : d.calls[f.state]) {
    int32_t parent = InternFrame({f.rule, after, f.parent});
    int32_t child = InternFrame({callee, grammar_->rule(callee).start, parent});
    Expand(child, tops, can_end, seen, depth + 1);
  }
}

int GrammarRuntime::InternState(std::vector<int32_t> tops, bool can_end) {
  std::sort(tops.begin(), tops.end());
  tops.erase(std::unique(tops.begin(), tops.end()), tops.end());
  if (tops.empty() && !can_end) return kDead;
  std::vector<int32_t> key = tops;
  key.push_back(can_end ? -1 : -2);
  auto [it, fresh] = state_ids_.emplace(std::move(key), static_cast<int32_t>(states_.size()));
  if (fresh) {
    State s;
    s.tops = std::move(tops);
    s.can_end = can_end;
    s.row.reset(new int32_t[256]);
    std::fill_n(s.row.get(), 256, -2);
    states_.push_back(std::move(s));
  }
  return it->second;
}

int GrammarRuntime::StepLocked(int state, uint8_t byte) {
  if (state < 0) return kDead;
  int32_t cached = states_[state].row[byte];
  if (cached != -2) return cached;
  std::vector<int32_t> tops, seen;
  bool can_end = false;
  // Copy: Expand may grow states_ (no: only frames_) but interning below may move states_.
  const std::vector<int32_t> from = states_[state].tops;
  for (int32_t fi : from) {
    const Frame f = frames_[fi];
    int t = grammar_->rule(f.rule).Next(f.state, byte);
    if (t < 0) continue;
    int32_t nf = InternFrame({f.rule, t, f.parent});
    seen.clear();
    Expand(nf, &tops, &can_end, &seen, 0);
  }
  int next = InternState(std::move(tops), can_end);
  states_[state].row[byte] = next;
  return next;
}

int GrammarRuntime::Step(int state, uint8_t byte) {
  std::lock_guard lock(mu_);
  return StepLocked(state, byte);
}

int GrammarRuntime::StepBytes(int state, std::string_view bytes) {
  std::lock_guard lock(mu_);
  for (unsigned char b : bytes) {
    state = StepLocked(state, b);
    if (state < 0) return kDead;
  }
  return state;
}

bool GrammarRuntime::CanEnd(int state) {
  std::lock_guard lock(mu_);
  return state >= 0 && states_[state].can_end;
}

bool GrammarRuntime::HasBytes(int state) {
  std::lock_guard lock(mu_);
  return state >= 0 && !states_[state].tops.empty();
}

size_t GrammarRuntime::num_states() {
  std::lock_guard lock(mu_);
  return states_.size();
}

size_t GrammarRuntime::num_frames() {
  std::lock_guard lock(mu_);
  return frames_.size();
}

std::shared_ptr<const TokenMask> GrammarRuntime::Mask(int state, const TokenTrie& trie) {
  std::lock_guard lock(mu_);
  if (state < 0) return std::make_shared<const TokenMask>((trie.vocab_size() + 63) / 64, 0);
  if (!states_[state].mask) {
    const size_t bytes = (trie.vocab_size() + 63) / 64 * sizeof(uint64_t);
    if (mask_bytes_ + bytes > mask_budget_) {
      for (State& st : states_) st.mask.reset();  // matchers keep what they hold
      mask_bytes_ = 0;
    }
    states_[state].mask = std::make_shared<const TokenMask>(ComputeMask(state, trie));
    mask_bytes_ += bytes;
  }
  return states_[state].mask;
}

TokenMask GrammarRuntime::ComputeMask(int state, const TokenTrie& trie) {
  TokenMask mask((trie.vocab_size() + 63) / 64, 0);
  if (states_[state].tops.empty()) return mask;
  // stack[k]: the state after the first k bytes of the current token.
  std::vector<int32_t> stack(trie.max_len_ + 1);
  stack[0] = state;
  int dead = INT_MAX;  // a prefix of this length (of the previous token) is dead
  const size_t n = trie.ids_.size();
  for (size_t i = 0; i < n; ++i) {
    const int l = trie.lcp_[i];
    if (l >= dead) continue;  // starts with the dead prefix
    dead = INT_MAX;
    const std::string& b = trie.bytes_[i];
    int cur = stack[l];
    int pos = l;
    for (; pos < static_cast<int>(b.size()); ++pos) {
      cur = StepLocked(cur, static_cast<uint8_t>(b[pos]));
      if (cur < 0) break;
      stack[pos + 1] = cur;
    }
    if (cur < 0) {
      dead = pos + 1;
      continue;
    }
    const int32_t id = trie.ids_[i];
    mask[id >> 6] |= uint64_t{1} << (id & 63);
  }
  return mask;
}

Matcher::Matcher(std::shared_ptr<GrammarRuntime> runtime, std::shared_ptr<const TokenTrie> trie,
                 std::vector<int32_t> eos)
    : runtime_(std::move(runtime)),
      trie_(std::move(trie)),
      eos_(std::move(eos)),
      state_(runtime_->Initial()) {}

const TokenMask& Matcher::Allowed() {
  if (mask_state_ == state_) return mask_;
  base_ = runtime_->Mask(state_, *trie_);
  mask_ = *base_;
  if (runtime_->CanEnd(state_)) {
    for (int32_t e : eos_) {
      if (e >= 0 && (e >> 6) < static_cast<int32_t>(mask_.size())) {
        mask_[e >> 6] |= uint64_t{1} << (e & 63);
      }
    }
  }
  mask_state_ = state_;
  return mask_;
}

Matcher::Result Matcher::Accept(int32_t token, std::string_view bytes) {
  if (std::find(eos_.begin(), eos_.end(), token) != eos_.end()) {
    return runtime_->CanEnd(state_) ? Result::kEnded : Result::kRejected;
  }
  if (bytes.empty()) return Result::kRejected;
  int next = runtime_->StepBytes(state_, bytes);
  if (next == GrammarRuntime::kDead) return Result::kRejected;
  state_ = next;
  return Result::kContinue;
}

}  // namespace modelcar::llm::grammar
