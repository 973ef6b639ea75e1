// Added tokens (special and not) are found in the raw text before normalization and BPE:
// leftmost match first, the longest token at that position, like HF tokenizers. The flags of
// tokenizer.json are honoured: lstrip/rstrip swallow the whitespace next to the token,
// single_word only matches when no letter or digit touches it. `normalized` is not applied:
// tokens always match the raw text (for NFC-stable token contents this is the same).
//
// Immutable after construction; thread-safe.
#ifndef MODELCAR_LLM_TOKENIZER_ADDED_TOKENS_H_
#define MODELCAR_LLM_TOKENIZER_ADDED_TOKENS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace modelcar::llm {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

// A part of the input text: plain text bytes [begin, end) when token < 0, else the added token
// `token` (whose match, with stripped whitespace, covered [begin, end)).
struct Segment {
  uint32_t begin;
  uint32_t end;
  int32_t token;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // Tokens with empty content are ignored.
  explicit AddedTokenMatcher(const std::vector<AddedToken>& tokens);

  // Appends the segments of `text`, in order, covering it exactly; empty text segments are
  // omitted. With include_special false, tokens marked special are not matched (they stay text).
  // REQUIRES: text shorter than 4 GiB.
  void Split(std::string_view text, bool include_special, std::vector<Segment>* out) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> kids;  // byte -> node index
    int32_t token = -1;                             // index into tokens_
  };
  int32_t Child(int32_t node, uint8_t b) const;
  // Longest allowed match starting at `pos`: token index, its length in *len; -1 if none.
  int32_t LongestAt(std::string_view text, size_t pos, bool include_special, size_t* len) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_ADDED_TOKENS_H_
