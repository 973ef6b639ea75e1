// Stop strings on streamed text (vLLM's StopChecker): text is released as soon as it cannot be
// part of a stop string (only a tail that is a prefix of some stop string is held back); when a
// stop string appears, the output ends before it (or after it with include_stop_str_in_output).
// Held-back text never splits a UTF-8 character.
//
// Thread-compatible: one instance per sequence.
#ifndef MODELCAR_SERVE_STOP_CHECKER_H_
#define MODELCAR_SERVE_STOP_CHECKER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelcar::serve {

class StopChecker {
 public:
  StopChecker(std::vector<std::string> stops, bool include_stop);

  // Adds decoded text; returns the text that may be emitted now. After a match, `*matched` holds
  // the stop string and later calls return nothing.
  std::string Append(std::string_view text, std::optional<std::string>* matched);
  // The end of the sequence: returns the held-back text (none after a match).
  std::string Flush();

  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  bool include_stop_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace modelcar::serve

#endif  // MODELCAR_SERVE_STOP_CHECKER_H_
