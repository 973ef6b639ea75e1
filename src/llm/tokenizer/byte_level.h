// The byte-level alphabet of GPT-2-style BPE: each of the 256 byte values is shown as one
// printable code point (printable Latin-1 bytes as themselves, the others as U+0100 + n, so a
// space is "Ġ" and '\n' is "Ċ"). Vocabulary strings in tokenizer.json are written in this
// alphabet; the tokenizer converts them back to raw bytes once at load time.
#ifndef MODELCAR_LLM_TOKENIZER_BYTE_LEVEL_H_
#define MODELCAR_LLM_TOKENIZER_BYTE_LEVEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace modelcar::llm {

// The code point that stands for byte `b`.
char32_t ByteToChar(uint8_t b);

// Decodes a vocabulary string written in the byte-level alphabet to raw bytes. nullopt if it
// holds a character outside the alphabet or is not valid UTF-8.
std::optional<std::string> ByteLevelDecode(std::string_view token);

// Encodes raw bytes in the byte-level alphabet (UTF-8 of the mapped code points).
std::string ByteLevelEncode(std::string_view bytes);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_TOKENIZER_BYTE_LEVEL_H_
