#include "llm/grammar/nfa.h"

#include <algorithm>
#include <string>

#include "base/utf8.h"

namespace modelcar::llm::grammar {
namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// Byte-range sequences whose union is exactly the UTF-8 encodings of [lo, hi] (the split used by
// regex engines: equal lengths, then aligned on continuation-byte boundaries).
void Utf8Sequences(uint32_t lo, uint32_t hi,
                   std::vector<std::vector<std::pair<uint8_t, uint8_t>>>* out) {
  if (lo > hi) return;
  static const uint32_t kLenMax[] = {0x7F, 0x7FF, 0xFFFF, kMaxCodePoint};
  for (uint32_t limit : kLenMax) {
    if (lo <= limit && hi > limit) {
      Utf8Sequences(lo, limit, out);
      Utf8Sequences(limit + 1, hi, out);
      return;
    }
  }
  for (int i = 1; i < 4; ++i) {
    const uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        Utf8Sequences(lo, lo | m, out);
        Utf8Sequences((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        Utf8Sequences(lo, (hi & ~m) - 1, out);
        Utf8Sequences(hi & ~m, hi, out);
        return;
      }
    }
  }
  std::string a, b;  // lo and hi are characters (no surrogates) of the same length
  AppendUtf8(lo, &a);
  AppendUtf8(hi, &b);
  std::vector<std::pair<uint8_t, uint8_t>> seq;
  for (size_t k = 0; k < a.size(); ++k) seq.emplace_back(uint8_t(a[k]), uint8_t(b[k]));
  out->push_back(std::move(seq));
}

}  // namespace

CharSet CharSet::Of(uint32_t lo, uint32_t hi) {
  CharSet s;
  s.Add(lo, hi);
  return s;
}

CharSet CharSet::Any() {
  CharSet s;
  s.Add(0, 0xD7FF).Add(0xE000, kMaxCodePoint);
  return s;
}

CharSet& CharSet::Add(uint32_t lo, uint32_t hi) {
  if (lo > hi) return *this;
  hi = std::min(hi, kMaxCodePoint);
  ranges_.emplace_back(lo, hi);
  Normalize();
  return *this;
}

CharSet& CharSet::Add(const CharSet& other) {
  ranges_.insert(ranges_.end(), other.ranges_.begin(), other.ranges_.end());
  Normalize();
  return *this;
}

CharSet& CharSet::AddCaseVariants() {
  std::vector<std::pair<uint32_t, uint32_t>> extra;
  for (const auto& [lo, hi] : ranges_) {
    for (uint32_t c = std::max<uint32_t>(lo, 'A'); c <= std::min<uint32_t>(hi, 'Z'); ++c) {
      extra.emplace_back(c + 32, c + 32);
    }
    for (uint32_t c = std::max<uint32_t>(lo, 'a'); c <= std::min<uint32_t>(hi, 'z'); ++c) {
      extra.emplace_back(c - 32, c - 32);
    }
  }
  ranges_.insert(ranges_.end(), extra.begin(), extra.end());
  Normalize();
  return *this;
}

CharSet CharSet::Negated() const { return Any().Minus(*this); }

CharSet CharSet::Minus(const CharSet& other) const {
  CharSet out;
  for (auto [lo, hi] : ranges_) {
    for (const auto& [olo, ohi] : other.ranges_) {
      if (ohi < lo || olo > hi) continue;
      if (olo > lo) out.ranges_.emplace_back(lo, olo - 1);
      if (ohi >= hi) {
        lo = hi + 1;
        break;
      }
      lo = ohi + 1;
    }
    if (lo <= hi) out.ranges_.emplace_back(lo, hi);
  }
  out.Normalize();
  return out;
}

void CharSet::Normalize() {
  std::sort(ranges_.begin(), ranges_.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : ranges_) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  ranges_ = std::move(merged);
}

int Nfa::NewState() {
  edges_.emplace_back();
  return static_cast<int>(edges_.size()) - 1;
}

void Nfa::AddBytes(int from, uint8_t lo, uint8_t hi, int to) {
  edges_[from].push_back({Edge::kBytes, lo, hi, -1, to});
}
void Nfa::AddEpsilon(int from, int to) { edges_[from].push_back({Edge::kEpsilon, 0, 0, -1, to}); }
void Nfa::AddCall(int from, int rule, int to) {
  edges_[from].push_back({Edge::kCall, 0, 0, rule, to});
}

Frag Nfa::Empty() {
  int s = NewState();
  return {s, s};
}

Frag Nfa::Bytes(uint8_t lo, uint8_t hi) {
  int a = NewState(), b = NewState();
  AddBytes(a, lo, hi, b);
  return {a, b};
}

Frag Nfa::Literal(std::string_view bytes) {
  int start = NewState(), cur = start;
  for (unsigned char c : bytes) {
    int next = NewState();
    AddBytes(cur, c, c, next);
    cur = next;
  }
  return {start, cur};
}

Frag Nfa::Chars(const CharSet& set) {
  std::vector<std::vector<std::pair<uint8_t, uint8_t>>> seqs;
  for (const auto& [lo, hi] : set.ranges()) {
    // Surrogates are not characters: skip them inside a range.
    if (lo <= 0xDFFF && hi >= 0xD800) {
      Utf8Sequences(lo, std::min<uint32_t>(hi, 0xD7FF), &seqs);
      Utf8Sequences(std::max<uint32_t>(lo, 0xE000), hi, &seqs);
    } else {
      Utf8Sequences(lo, hi, &seqs);
    }
  }
  int start = NewState(), end = NewState();
  for (const auto& seq : seqs) {
    int cur = start;
    for (size_t k = 0; k < seq.size(); ++k) {
      int next = k + 1 == seq.size() ? end : NewState();
      AddBytes(cur, seq[k].first, seq[k].second, next);
      cur = next;
    }
  }
  return {start, end};
}

Frag Nfa::Call(int rule) {
  int a = NewState(), b = NewState();
  AddCall(a, rule, b);
  return {a, b};
}

Frag Nfa::Seq(const std::vector<Frag>& parts) {
  if (parts.empty()) return Empty();
  for (size_t i = 1; i < parts.size(); ++i) AddEpsilon(parts[i - 1].end, parts[i].start);
  return {parts.front().start, parts.back().end};
}

Frag Nfa::Alt(const std::vector<Frag>& parts) {
  int a = NewState(), b = NewState();
  for (const Frag& p : parts) {
    AddEpsilon(a, p.start);
    AddEpsilon(p.end, b);
  }
  return {a, b};
}

Frag Nfa::Optional(Frag f) {
  int a = NewState(), b = NewState();
  AddEpsilon(a, f.start);
  AddEpsilon(f.end, b);
  AddEpsilon(a, b);
  return {a, b};
}

Frag Nfa::Star(Frag f) {
  int a = NewState(), b = NewState();
  AddEpsilon(a, f.start);
  AddEpsilon(f.end, f.start);
  AddEpsilon(f.end, b);
  AddEpsilon(a, b);
  return {a, b};
}

Frag Nfa::Plus(Frag f) {
  int b = NewState();
  AddEpsilon(f.end, f.start);
  AddEpsilon(f.end, b);
  return {f.start, b};
}

Frag Nfa::Repeat(const std::function<Frag()>& make, int min, int max) {
  std::vector<Frag> parts;
  for (int i = 0; i < min; ++i) parts.push_back(make());
  if (max < 0) {
    parts.push_back(Star(make()));
    return Seq(parts);
  }
  // The optional copies: each is reachable only after the previous one; any may be the last.
  const int start = NewState(), exit = NewState();
  int cur = start;
  for (int i = min; i < max; ++i) {
    AddEpsilon(cur, exit);
    Frag f = make();
    AddEpsilon(cur, f.start);
    cur = f.end;
  }
  AddEpsilon(cur, exit);
  parts.push_back({start, exit});
  return Seq(parts);
}

}  // namespace modelcar::llm::grammar
