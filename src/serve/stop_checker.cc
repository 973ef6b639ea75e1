#include "serve/stop_checker.h"

#include <algorithm>

namespace modelcar::serve {

StopChecker::StopChecker(std::vector<std::string> stops, bool include_stop)
    : stops_(std::move(stops)), include_stop_(include_stop) {}

std::string StopChecker::Append(std::string_view text, std::optional<std::string>* matched) {
  if (stopped_) return "";
  pending_ += text;
  if (stops_.empty()) {
    std::string out;
    out.swap(pending_);
    return out;
  }
  size_t best = std::string::npos;
  const std::string* best_stop = nullptr;
  for (const std::string& s : stops_) {
    size_t p = pending_.find(s);
    if (p != std::string::npos && (p < best || (p == best && s.size() > best_stop->size()))) {
      best = p;
      best_stop = &s;
    }
  }
  if (best_stop) {
    stopped_ = true;
    *matched = *best_stop;
    std::string out = pending_.substr(0, best + (include_stop_ ? best_stop->size() : 0));
    pending_.clear();
    return out;
  }
  // Hold back the longest tail of the text that could still grow into a stop string.
  size_t keep = 0;
  for (const std::string& st : stops_) {
    for (size_t n = std::min(pending_.size(), st.size() - 1); n > keep; --n) {
      if (pending_.compare(pending_.size() - n, n, st, 0, n) == 0) {
        keep = n;
        break;
      }
    }
  }
  size_t cut = pending_.size() - keep;
  // Do not split a UTF-8 sequence: move the cut back over continuation bytes.
  while (cut > 0 && cut < pending_.size() &&
         (static_cast<unsigned char>(pending_[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  std::string out = pending_.substr(0, cut);
  pending_.erase(0, cut);
  return out;
}

std::string StopChecker::Flush() {
  std::string out;
  if (!stopped_) out.swap(pending_);
  pending_.clear();
  return out;
}

}  // namespace modelcar::serve
