#include "llm/tokenizer/added_tokens.h"

#include "llm/tokenizer/unicode.h"

namespace modelcar::llm {
namespace {

// Start of the code point that ends just before `pos`. REQUIRES: pos > 0, valid UTF-8 before.
size_t PrevCharStart(std::string_view s, size_t pos) {
  size_t k = pos - 1;
  while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
  return k;
}

// Class of the character starting at `pos`; kOther past the end or for invalid UTF-8.
CharClass ClassAt(std::string_view s, size_t pos) {
  if (pos >= s.size()) return CharClass::kOther;
  auto b = static_cast<unsigned char>(s[pos]);
  size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
  if (len > s.size() - pos || !ValidateUtf8(s.substr(pos, len)).ok()) return CharClass::kOther;
  char32_t cp;
  DecodeUtf8(s, pos, &cp);
  return ClassOf(cp);
}

bool IsWordClass(CharClass c) { return c == CharClass::kLetter || c == CharClass::kNumber; }

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens) : nodes_(1) {
  for (const AddedToken& t : tokens) {
    if (t.content.empty()) continue;
    int32_t node = 0;
    for (char ch : t.content) {
      auto b = static_cast<uint8_t>(ch);
      int32_t next = Child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_[node].kids.emplace_back(b, next);
        nodes_.emplace_back();
      }
      node = next;
    }
    if (nodes_[node].token < 0) {  // the first of equal contents wins
      nodes_[node].token = static_cast<int32_t>(tokens_.size());
      tokens_.push_back(t);
    }
    first_byte_[static_cast<uint8_t>(t.content[0])] = true;
  }
}

int32_t AddedTokenMatcher::Child(int32_t node, uint8_t b) const {
  for (const auto& [byte, idx] : nodes_[node].kids) {
    if (byte == b) return idx;
  }
  return -1;
}

int32_t AddedTokenMatcher::LongestAt(std::string_view text, size_t pos, bool include_special,
                                     size_t* len) const {
  int32_t node = 0, best = -1;
  for (size_t k = pos; k < text.size(); ++k) {
    node = Child(node, static_cast<uint8_t>(text[k]));
    if (node < 0) break;
    int32_t t = nodes_[node].token;
    if (t >= 0 && (include_special || !tokens_[t].special)) {
      best = t;
      *len = k + 1 - pos;
    }
  }
  return best;
}

void AddedTokenMatcher::Split(std::string_view text, bool include_special,
                              std::vector<Segment>* out) const {
  size_t text_start = 0;  // start of the pending plain text
  size_t i = 0;
  while (i < text.size()) {
    if (!first_byte_[static_cast<uint8_t>(text[i])]) {
      ++i;
      continue;
    }
    size_t len = 0;
    int32_t t = LongestAt(text, i, include_special, &len);
    if (t < 0) {
      ++i;
      continue;
    }
    const AddedToken& tok = tokens_[t];
    size_t begin = i, end = i + len;
    if (tok.single_word) {
      bool left_ok = begin == 0 || !IsWordClass(ClassAt(text, PrevCharStart(text, begin)));
      bool right_ok = end == text.size() || !IsWordClass(ClassAt(text, end));
      if (!left_ok || !right_ok) {
        ++i;
        continue;
      }
    }
    if (tok.lstrip) {
      while (begin > text_start && IsSpace(ClassAt(text, PrevCharStart(text, begin)))) {
        begin = PrevCharStart(text, begin);
      }
    }
    if (tok.rstrip) {
      while (end < text.size() && IsSpace(ClassAt(text, end))) {
        char32_t cp;
        end += static_cast<size_t>(DecodeUtf8(text, end, &cp));
      }
    }
    if (begin > text_start) {
      out->push_back(Segment{static_cast<uint32_t>(text_start), static_cast<uint32_t>(begin), -1});
    }
    out->push_back(Segment{static_cast<uint32_t>(begin), static_cast<uint32_t>(end), tok.id});
    i = text_start = end;
  }
  if (text_start < text.size()) {
    out->push_back(
        Segment{static_cast<uint32_t>(text_start), static_cast<uint32_t>(text.size()), -1});
  }
}

}  // namespace modelcar::llm
