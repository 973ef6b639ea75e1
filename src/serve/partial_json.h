// JSON text read while it is still being generated (streamed tool calls): what a prefix of a
// JSON document already fixes.
//
// - ScanPartialObject: the members of an object as far as its text goes, each key with the raw
//   text of its value, complete or cut off.
// - DumpsPrefix: the part of Python's json.dumps(value, ensure_ascii=False) (", " and ": ",
//   keys in order; the form tool_parser.h returns arguments in) that a prefix of the value's text
//   already determines: for any way the text may go on, DumpsPrefix(prefix) is a prefix of the
//   dumps of the completed value, and it grows as the prefix does (a string's characters as they
//   come; a number or literal once a delimiter ends it). vLLM's llama3_json streaming parser
//   streams the same thing, diffing json.dumps of partially parsed JSON.
//
// Pure functions; thread-safe.
#ifndef MODELCAR_SERVE_PARTIAL_JSON_H_
#define MODELCAR_SERVE_PARTIAL_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace modelcar::serve {

struct PartialMember {
  std::string key;         // decoded
  std::string_view value;  // raw text of the value (a view into the scanned text)
  bool complete = false;   // the value's text is whole (a number or literal: a delimiter follows)
};

struct PartialObject {
  std::vector<PartialMember> members;  // in order; the last may be incomplete
  bool closed = false;                 // the closing brace was read
  size_t end = 0;                      // when closed: one past the closing brace
  bool malformed = false;              // text that no JSON object can continue
};

// Scans the object that starts at text[0] == '{' (leading whitespace skipped). A member whose
// key is not complete yet is left out. REQUIRES: nothing; text not starting with '{' is malformed.
PartialObject ScanPartialObject(std::string_view text);

// The end of the JSON value at the start of `text` (no leading whitespace): one past it, or npos
// when the text ends first (a number or literal then, or an open string, object or array).
// `malformed`: set when the value cannot be JSON.
size_t ScanJsonValue(std::string_view text, bool* malformed);

// Tracks where a JSON object or array ends, fed as it streams (its opening "{" or "[" already
// consumed): brackets are counted outside strings, escapes inside them skipped.
class JsonObjectScanner {
 public:
  // Feeds bytes; returns the number of bytes consumed up to and including the closing bracket,
  // or npos when the value is still open after all of `bytes`.
  size_t Feed(std::string_view bytes);
  bool done() const { return depth_ == 0; }
  // The deepest nesting fed so far (the value itself is depth 1).
  int deepest() const { return deepest_; }

 private:
  int depth_ = 1;
  int deepest_ = 1;
  bool in_string_ = false;
  bool escape_ = false;
};

// See above. Whitespace-only or empty text gives "".
std::string DumpsPrefix(std::string_view raw);

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_PARTIAL_JSON_H_
