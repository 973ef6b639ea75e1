// Tokenizer: HF tokenizer.json byte-level BPE (Qwen2/Qwen2.5/Qwen3, Llama 3), encode and decode.
//
// Pipeline of Encode, as HF tokenizers runs it:
//   added/special tokens found in the raw text (added_tokens.h)
//   -> each text segment: NFC (when the normalizer says so) -> split pattern (pretokenize.h)
//   -> byte-level BPE per piece (bpe.h).
// No BOS/EOS is added: chat templates write them as text.
//
// Supported tokenizer.json: model.type "BPE" (merges as "a b" strings or ["a", "b"] pairs,
// ignore_merges, optional unk_token; no dropout, byte_fallback or subword affixes), normalizer
// null or NFC, pre_tokenizer Sequence[Split(Qwen2 or Llama 3 regex, Isolated), ByteLevel],
// decoder ByteLevel. Anything else fails to load with Unimplemented naming the field.
//
// Thread safety: a loaded Tokenizer is immutable apart from an internally synchronized cache;
// every const method may be called from many threads at once. Movable, not copyable.
#ifndef MODELCAR_LLM_TOKENIZER_TOKENIZER_H_
#define MODELCAR_LLM_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "llm/tokenizer/added_tokens.h"

namespace modelcar::llm {

class BpeModel;
struct TokenIndex;

class Tokenizer {
 public:
  // Loads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json.
  static Result<Tokenizer> FromDir(const std::string& dir);
  // `tokenizer_config_json` may be empty. `name` prefixes error messages (e.g. a directory).
  static Result<Tokenizer> FromJson(std::string_view tokenizer_json,
                                    std::string_view tokenizer_config_json,
                                    std::string_view name = "tokenizer");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Token ids of `text`. With parse_special false, special added tokens are tokenized as plain
  // text (HF "split_special_tokens"); non-special added tokens are still matched.
  // Fails (InvalidArgument) if `text` is not valid UTF-8 or is 4 GiB or longer.
  Result<std::vector<int32_t>> Encode(std::string_view text, bool parse_special = true) const;
  // Same, appending to `*out` (left unchanged on error).
  Status EncodeTo(std::string_view text, bool parse_special, std::vector<int32_t>* out) const;

  // Text of `ids`: token bytes joined, invalid UTF-8 replaced by U+FFFD (maximal subparts).
  // Ids outside [0, vocab_size()) or without a token are skipped. With skip_special, tokens
  // marked special are left out.
  std::string Decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // Id of a token given as written in tokenizer.json (e.g. "Ġworld", "<|im_end|>"); -1 if none.
  int32_t TokenId(std::string_view token) const;
  // The token as written in tokenizer.json; empty for unknown ids. The view lives as long as
  // the Tokenizer.
  std::string_view TokenText(int32_t id) const;
  // Raw bytes the token stands for (may be part of a UTF-8 character); empty for unknown ids.
  std::string_view TokenBytes(int32_t id) const;
  // True for added tokens marked special (skipped by skip_special).
  bool IsSpecial(int32_t id) const;
  // True for added tokens (special or not).
  bool IsAdded(int32_t id) const;

  // From tokenizer_config.json; -1 when not set.
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }
  // The ids tokenizer.json's post-processor puts before and after a single sequence: what HF's
  // add_special_tokens=True adds (Llama 3.1's <|begin_of_text|>; none for Qwen).
  const std::vector<int32_t>& special_prefix() const { return special_prefix_; }
  const std::vector<int32_t>& special_suffix() const { return special_suffix_; }
  // Largest id + 1 (vocabulary and added tokens).
  int32_t vocab_size() const { return static_cast<int32_t>(text_.size()); }
  const std::vector<AddedToken>& added_tokens() const { return added_; }

 private:
  friend class TokenizerLoader;
  Tokenizer();
  Status EncodeSegment(std::string_view text, std::vector<int32_t>* out) const;

  std::vector<std::string> text_;   // by id: tokenizer.json spelling
  std::vector<std::string> bytes_;  // by id: raw bytes
  std::vector<uint8_t> flags_;      // by id: kAdded | kSpecial
  std::vector<AddedToken> added_;
  AddedTokenMatcher matcher_;
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<TokenIndex> index_;  // token text -> id
  bool nfc_ = false;
  int split_pattern_ = 0;  // SplitPattern
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  std::vector<int32_t> special_prefix_, special_suffix_;
  int32_t pad_id_ = -1;
};

// Incremental detokenizer for streaming: feed ids one at a time, get text as soon as it forms
// complete UTF-8 characters. Bytes of a character split across tokens are held until the
// character is complete; invalid bytes become U+FFFD exactly as Decode would, so the
// concatenation of all Push results and Finish() equals Decode(all ids).
// Not thread-safe (one per stream). REQUIRES: the Tokenizer outlives it.
class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special);

  // Text completed by `id` (possibly empty).
  std::string Push(int32_t id);
  // Flushes bytes still held (an incomplete character becomes U+FFFD). The decoder can be
  // reused afterwards.
  std::string Finish();
  // Number of bytes held back, waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_TOKENIZER_H_
