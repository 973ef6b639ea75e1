// Bounded JSON parsing for untrusted input (HTTP request bodies, registry responses, annotations).
//
// nlohmann::json parses iteratively and destroys values iteratively, but copying, comparing,
// dumping and diffing a value recurse once per nesting level: a 200 KB body of 100,000 nested
// arrays parses fine and then overflows the stack on its first copy. And a document takes many
// times its size in memory: `[{},{},...]` costs ~100 bytes a value for 3 bytes of input. So
// ParseJsonLimited() stops the parse as soon as the input goes deeper than `max_depth`, holds more
// than `max_values` values, would take more than `max_memory` bytes or is longer than `max_bytes`:
// a value it returns is safe to copy, dump and walk recursively, and its size is bounded.
//
//   ASSIGN_OR_RETURN(nlohmann::json doc, ParseJsonLimited(body, "manifest"));
//
// Errors are InvalidArgument; the message starts with `what` (when not empty) and says which limit
// was hit, or quotes the parser's error (with the byte position).
// Thread safety: pure function.
#ifndef MODELCAR_BASE_JSON_H_
#define MODELCAR_BASE_JSON_H_

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar {

struct JsonLimits {
  // Deepest nesting of arrays and objects (the top-level container is depth 1). Real documents
  // (pods, manifests, chat requests with tool schemas) stay far below; recursion over a value of
  // this depth needs well under 1 MiB of stack.
  int max_depth = 128;
  // Most values (scalars, arrays and objects, counted when they start). Bounds the memory a parse
  // can take: a value costs 16 bytes plus its container node, up to ~100 bytes for `[{},{},...]`.
  size_t max_values = size_t{1} << 20;
  // Most memory the parsed value may take, as estimated while parsing (the value slots, the heap
  // blocks of containers, object members and strings, allocator overhead included; it counts
  // somewhat less than the process's resident growth, which adds fragmentation).
  size_t max_memory = size_t{64} << 20;
  // Longest input accepted.
  size_t max_bytes = size_t{16} << 20;
};

// Parses one JSON document (strict: trailing garbage is an error; no comments). Duplicate keys
// keep the last value, as nlohmann::json::parse does. Instantiated for nlohmann::json and
// nlohmann::ordered_json.
template <class Json = nlohmann::json>
Result<Json> ParseJsonLimited(std::string_view text, std::string_view what,
                              const JsonLimits& limits = {});

// `text` with every byte outside printable ASCII (invalid UTF-8, terminal control characters,
// newlines) written as \xHH: for messages that quote untrusted input, such as a parser's error
// (nlohmann's quote the input near the error: "last read: '...'") or an exception's what().
std::string PrintableAscii(std::string_view text);

}  // namespace modelcar

#endif  // MODELCAR_BASE_JSON_H_
