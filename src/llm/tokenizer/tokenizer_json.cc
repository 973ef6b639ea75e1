#include "llm/tokenizer/tokenizer_json.h"

#include <fmt/format.h>

#include "base/resident.h"

namespace modelcar::llm {
namespace {

using json = nlohmann::json;

// Forwards every event to a DOM builder except the contents of model.vocab and model.merges,
// which it collects itself.
class Handler {
 public:
  explicit Handler(TokenizerJson* out) : out_(out), dom_(out->rest, /*allow_exceptions=*/false) {}

  bool null() { return Value("null") && (capture_ != kNone || dom_.null()); }
  bool boolean(bool v) { return Value("a boolean") && (capture_ != kNone || dom_.boolean(v)); }
  bool number_integer(json::number_integer_t v) {
    return Integer(v) && (capture_ != kNone || dom_.number_integer(v));
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return Integer(v > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v)) &&
           (capture_ != kNone || dom_.number_unsigned(v));
  }
  bool number_float(json::number_float_t v, const std::string& s) {
    return Value("a float") && (capture_ != kNone || dom_.number_float(v, s));
  }
  bool binary(json::binary_t& v) {
    return Value("binary") && (capture_ != kNone || dom_.binary(v));
  }

  bool string(std::string& v) {
    if (capture_ == kMerges) {
      if (depth_ == capture_depth_ + 1) {  // "a b"
        size_t sp = v.find(' ');
        if (sp == std::string::npos || v.find(' ', sp + 1) != std::string::npos) {
          return Fail(MergeWhere() + " must be two tokens separated by one space");
        }
        const std::string_view pair(v);
        out_->merges.emplace_back(Add(pair.substr(0, sp)), Add(pair.substr(sp + 1)));
        return true;
      }
      if (depth_ == capture_depth_ + 2 && pair_parts_ < 2) {  // ["a", "b"]
        (pair_parts_ == 0 ? pair_.first : pair_.second) = Add(v);
        ++pair_parts_;
        return true;
      }
      return Fail(MergeWhere() + " must be \"a b\" or [\"a\", \"b\"]");
    }
    if (capture_ == kVocab)
      return Fail("model.vocab[" + json(key_).dump() + "] must be an integer id");
    return dom_.string(v);
  }

  bool key(std::string& k) {
    if (!frames_.empty()) frames_.back() = k;
    if (capture_ == kVocab && depth_ == capture_depth_ + 1) {
      key_ = k;
      return true;
    }
    return capture_ != kNone || dom_.key(k);
  }

  bool start_object(std::size_t n) {
    if (capture_ == kNone && IsModelField("vocab")) {
      capture_ = kVocab;
      capture_depth_ = depth_;
      out_->has_vocab = true;
      Enter();
      return dom_.start_object(0);
    }
    if (capture_ != kNone)
      return Fail(capture_ == kVocab ? "model.vocab values must be integer ids"
                                     : MergeWhere() + " must be \"a b\" or [\"a\", \"b\"]");
    Enter();
    return dom_.start_object(n);
  }
  bool end_object() {
    Leave();
    if (capture_ == kVocab && depth_ == capture_depth_) capture_ = kNone;
    return capture_ != kNone || dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (capture_ == kNone && IsModelField("merges")) {
      capture_ = kMerges;
      capture_depth_ = depth_;
      out_->has_merges = true;
      Enter();
      return dom_.start_array(0);
    }
    if (capture_ == kMerges && depth_ == capture_depth_ + 1) {
      pair_parts_ = 0;
      Enter();
      return true;
    }
    if (capture_ != kNone)
      return Fail(capture_ == kVocab ? "model.vocab values must be integer ids"
                                     : MergeWhere() + " must be \"a b\" or [\"a\", \"b\"]");
    Enter();
    return dom_.start_array(n);
  }
  bool end_array() {
    Leave();
    if (capture_ == kMerges) {
      if (depth_ == capture_depth_ + 1) {
        if (pair_parts_ != 2) return Fail(MergeWhere() + " must be \"a b\" or [\"a\", \"b\"]");
        out_->merges.push_back(pair_);
        return true;
      }
      capture_ = kNone;  // the merges array itself closed
    }
    return capture_ != kNone || dom_.end_array();
  }

  bool parse_error(std::size_t pos, const std::string&, const json::exception&) {
    if (error_.empty())
      error_ = fmt::format("tokenizer.json is not valid JSON (near byte {})", pos);
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  enum Capture { kNone, kVocab, kMerges };

  // True when the container being opened is root.model.<field>.
  bool IsModelField(const char* field) const {
    return depth_ == 2 && frames_.size() == 2 && frames_[0] == "model" && frames_[1] == field;
  }
  void Enter() {
    ++depth_;
    frames_.emplace_back();
  }
  void Leave() {
    --depth_;
    frames_.pop_back();
  }
  bool Value(const char* what) {
    if (capture_ == kVocab)
      return Fail("model.vocab[" + json(key_).dump() + "] must be an integer id, not " + what);
    if (capture_ == kMerges) return Fail(MergeWhere() + " must be \"a b\" or [\"a\", \"b\"]");
    return true;
  }
  bool Integer(int64_t v) {
    if (capture_ == kVocab) {
      out_->vocab.emplace_back(Add(key_), v);
      return true;
    }
    return Value("a number");
  }
  TokenizerJson::Span Add(std::string_view s) {
    TokenizerJson::Span span{static_cast<uint32_t>(out_->strings.size()),
                             static_cast<uint32_t>(s.size())};
    out_->strings.append(s);
    return span;
  }
  std::string MergeWhere() const { return fmt::format("model.merges[{}]", out_->merges.size()); }
  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  TokenizerJson* out_;
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::vector<std::string> frames_;  // the current key of each open container
  int depth_ = 0;
  Capture capture_ = kNone;
  int capture_depth_ = 0;
  std::string key_;
  std::pair<TokenizerJson::Span, TokenizerJson::Span> pair_;
  int pair_parts_ = 0;
  std::string error_;
};

}  // namespace

void TokenizerJson::Reserve(size_t text_size) {
  ReserveResident(strings, text_size / 2);  // the vocab and merges are most of the file
  // Qwen's 11.4 MB has 151k of each (~75 bytes per entry and merge); more only grow the vectors.
  ReserveResident(vocab, text_size / 64);
  ReserveResident(merges, text_size / 64);
}

Result<TokenizerJson> ParseTokenizerJson(std::string_view text) {
  if (auto fast = ParseTokenizerJsonFast(text)) return std::move(*fast);
  return ParseTokenizerJsonSax(text);
}

Result<TokenizerJson> ParseTokenizerJsonSax(std::string_view text) {
  if (text.size() >= (uint64_t{1} << 32)) {  // TokenizerJson::Span's offsets are 32-bit
    return InvalidArgument("tokenizer.json is 4 GiB or larger");
  }
  TokenizerJson out;
  out.Reserve(text.size());
  Handler handler(&out);
  bool ok = json::sax_parse(text.begin(), text.end(), &handler);
  if (!ok || !handler.error().empty()) {
    return InvalidArgument(handler.error().empty() ? "tokenizer.json is not valid JSON"
                                                   : handler.error());
  }
  return out;
}

}  // namespace modelcar::llm
