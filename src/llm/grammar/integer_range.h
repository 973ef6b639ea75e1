// Integer ranges as regular expressions: the piece of the JSON Schema compiler that turns
// "minimum"/"maximum" on integers into a pattern the token matcher can follow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace modelcar::llm::grammar {

// A regex (the subset regex.h compiles, no anchors) matching exactly the decimal integers in
// [lo, hi] written without leading zeros ("-0" excluded). An unset side is unbounded up to 18
// digits, what every JSON parser reads into an int64. lo <= hi when both are set.
std::string IntegerRangeRegex(std::optional<int64_t> lo, std::optional<int64_t> hi);

}  // namespace modelcar::llm::grammar
