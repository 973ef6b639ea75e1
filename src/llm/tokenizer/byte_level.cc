#include "llm/tokenizer/byte_level.h"

#include <array>

#include "base/utf8.h"
#include "llm/tokenizer/unicode.h"

namespace modelcar::llm {
namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 0x144> to_byte{};  // code points < 0x144 only; -1 if not in the alphabet

  Tables() {
    to_byte.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(0x100 + extra++);
      to_char[b] = c;
      to_byte[c] = static_cast<int16_t>(b);
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

char32_t ByteToChar(uint8_t b) { return GetTables().to_char[b]; }

std::optional<std::string> ByteLevelDecode(std::string_view token) {
  if (!ValidateUtf8(token).ok()) return std::nullopt;
  const Tables& t = GetTables();
  std::string out;
  out.reserve(token.size());
  size_t i = 0;
  while (i < token.size()) {
    char32_t c;
    i += static_cast<size_t>(DecodeUtf8(token, i, &c));
    if (c >= t.to_byte.size() || t.to_byte[c] < 0) return std::nullopt;
    out.push_back(static_cast<char>(t.to_byte[c]));
  }
  return out;
}

std::string ByteLevelEncode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) AppendUtf8(ByteToChar(static_cast<uint8_t>(b)), &out);
  return out;
}

}  // namespace modelcar::llm
