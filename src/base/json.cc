// ParseJsonLimited: nlohmann's SAX parser feeding its own DOM builder, stopped by the limits.
#include "base/json.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

namespace modelcar {
std::string PrintableAscii(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

namespace {

template <class Json>
class LimitedDomBuilder {
 public:
  using number_integer_t = typename Json::number_integer_t;
  using number_unsigned_t = typename Json::number_unsigned_t;
  using number_float_t = typename Json::number_float_t;
  using string_t = typename Json::string_t;
  using binary_t = typename Json::binary_t;

  LimitedDomBuilder(Json* root, const JsonLimits& limits)
      : dom_(*root, /*allow_exceptions=*/false), limits_(limits) {}

  bool null() { return Count() && dom_.null(); }
  bool boolean(bool v) { return Count() && dom_.boolean(v); }
  bool number_integer(number_integer_t v) { return Count() && dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) { return Count() && dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) {
    return Count() && dom_.number_float(v, s);
  }
  bool string(string_t& v) {
    return Count() && Spend(kHeapString + HeapChars(v)) && dom_.string(v);
  }
  bool binary(binary_t& v) { return Count() && Spend(kContainer + v.size()) && dom_.binary(v); }
  bool key(string_t& v) { return Spend(kMember + HeapChars(v)) && dom_.key(v); }
  bool start_object(std::size_t n) { return Enter() && Spend(kContainer) && dom_.start_object(n); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return Enter() && Spend(kContainer) && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const typename Json::exception& e) {
    if (error_.empty()) error_ = "not valid JSON: " + PrintableAscii(e.what());
    return dom_.parse_error(position, last_token, e);
  }

  const std::string& error() const { return error_; }

 private:
  // The memory estimate (64-bit libstdc++, 16 bytes of allocator overhead a block): a value slot
  // (16 bytes, counted twice for the slack of growing arrays); a container's heap object
  // (std::map 48, std::vector 24); an object member's tree node (node header, key string, value);
  // a string value's heap std::string; characters beyond the 15 kept inline.
  static constexpr size_t kSlot = 32;
  static constexpr size_t kContainer = 64;
  static constexpr size_t kMember = 96;
  static constexpr size_t kHeapString = 48;
  static size_t HeapChars(const string_t& s) { return s.size() > 15 ? s.size() + 17 : 0; }

  bool Spend(size_t bytes) {
    memory_ += bytes;
    if (memory_ <= limits_.max_memory) return true;
    error_ = fmt::format("JSON would take more than {} bytes of memory", limits_.max_memory);
    return false;
  }
  bool Count() {
    if (++values_ > limits_.max_values) {
      error_ = fmt::format("JSON has more than {} values", limits_.max_values);
      return false;
    }
    return Spend(kSlot);
  }
  bool Enter() {
    if (!Count()) return false;
    if (++depth_ <= limits_.max_depth) return true;
    error_ = fmt::format("JSON nested deeper than {} levels", limits_.max_depth);
    return false;
  }

  nlohmann::detail::json_sax_dom_parser<Json> dom_;
  const JsonLimits& limits_;
  int depth_ = 0;
  size_t values_ = 0;
  size_t memory_ = 0;
  std::string error_;
};

Status JsonError(std::string_view what, const std::string& detail) {
  return InvalidArgument(what.empty() ? detail : std::string(what) + ": " + detail);
}

}  // namespace

template <class Json>
Result<Json> ParseJsonLimited(std::string_view text, std::string_view what,
                              const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return JsonError(what, fmt::format("JSON larger than {} bytes", limits.max_bytes));
  }
  Json out;
  LimitedDomBuilder<Json> builder(&out, limits);
  bool ok =
      Json::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json,
                      /*strict=*/true);
  if (!ok || !builder.error().empty()) {
    // `out` may hold a partial tree; its destructor is iterative (no recursion per level).
    return JsonError(what, builder.error().empty() ? "not valid JSON" : builder.error());
  }
  return out;
}

template Result<nlohmann::json> ParseJsonLimited<nlohmann::json>(std::string_view, std::string_view,
                                                                 const JsonLimits&);
template Result<nlohmann::ordered_json> ParseJsonLimited<nlohmann::ordered_json>(std::string_view,
                                                                                 std::string_view,
                                                                                 const JsonLimits&);

}  // namespace modelcar
