#include "llm/tokenizer/tokenizer.h"

#include <fmt/format.h>

#include "llm/tokenizer/bpe.h"
#include "llm/tokenizer/pretokenize.h"
#include "llm/tokenizer/token_index.h"
#include "llm/tokenizer/unicode.h"

namespace modelcar::llm {

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Status Tokenizer::EncodeSegment(std::string_view text, std::vector<int32_t>* out) const {
  std::string normalized;
  if (IsAscii(text)) {
    // ASCII is valid UTF-8 and NFC.
  } else if (nfc_) {
    if (!IsNfcQuick(text)) {  // IsNfcQuick validates; Nfc does when it is false
      ASSIGN_OR_RETURN(normalized, Nfc(text));
      text = normalized;
    }
  } else {
    RETURN_IF_ERROR(ValidateUtf8(text));
  }
  thread_local std::vector<Piece> pieces;  // scratch, reused across calls
  pieces.clear();
  SplitText(static_cast<SplitPattern>(split_pattern_), text, &pieces);
  for (const Piece& p : pieces) bpe_->Encode(text.substr(p.begin, p.end - p.begin), out);
  return Status();
}

Status Tokenizer::EncodeTo(std::string_view text, bool parse_special,
                           std::vector<int32_t>* out) const {
  if (text.size() >= (uint64_t{1} << 32)) {
    return InvalidArgument(fmt::format("text too long to tokenize ({} bytes)", text.size()));
  }
  std::vector<Segment> segments;
  matcher_.Split(text, parse_special, &segments);
  size_t base = out->size();
  for (const Segment& s : segments) {
    if (s.token >= 0) {
      out->push_back(s.token);
      continue;
    }
    Status st = EncodeSegment(text.substr(s.begin, s.end - s.begin), out);
    if (!st.ok()) {
      out->resize(base);
      if (st.code() == Code::kInvalidArgument && s.begin > 0) {
        return InvalidArgument(
            fmt::format("{} in the text segment starting at byte {}", st.message(), s.begin));
      }
      return st;
    }
  }
  return Status();
}

Result<std::vector<int32_t>> Tokenizer::Encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  RETURN_IF_ERROR(EncodeTo(text, parse_special, &ids));
  return ids;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    if (skip_special && IsSpecial(id)) continue;
    bytes += bytes_[static_cast<size_t>(id)];
  }
  std::string out;
  out.reserve(bytes.size());
  AppendUtf8Lossy(bytes, &out);
  return out;
}

int32_t Tokenizer::TokenId(std::string_view token) const { return index_->by_text.Find(token); }

std::string_view Tokenizer::TokenText(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return text_[static_cast<size_t>(id)];
}

std::string_view Tokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return bytes_[static_cast<size_t>(id)];
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && (flags_[static_cast<size_t>(id)] & kTokenSpecial) != 0;
}

bool Tokenizer::IsAdded(int32_t id) const {
  return id >= 0 && id < vocab_size() && (flags_[static_cast<size_t>(id)] & kTokenAdded) != 0;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::Push(int32_t id) {
  if (skip_special_ && tokenizer_.IsSpecial(id)) return {};
  pending_ += tokenizer_.TokenBytes(id);
  size_t ready = CompleteUtf8Prefix(pending_);
  std::string out;
  if (ready == 0) return out;
  AppendUtf8Lossy(std::string_view(pending_).substr(0, ready), &out);
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::Finish() {
  std::string out;
  AppendUtf8Lossy(pending_, &out);
  pending_.clear();
  return out;
}

}  // namespace modelcar::llm
