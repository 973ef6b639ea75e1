#include "transfer/build_display.h"

namespace modelcar {

BuildDisplay::BuildDisplay(ProgressMode mode) : display_(mode, "build", /*summary=*/false) {}

BuildDisplay::~BuildDisplay() { Finish(false); }

void BuildDisplay::Line(std::string_view line) { display_.Message(line); }

void BuildDisplay::Total(uint64_t bytes) {
  const int previous = entry_.exchange(-1);
  if (previous >= 0) display_.Done(previous, "failed");
  entry_.store(display_.Add("", static_cast<int64_t>(bytes), "model files"));
}

void BuildDisplay::Advance(uint64_t n) {
  const int entry = entry_.load();
  if (entry >= 0) display_.Bytes(entry, static_cast<int64_t>(n));
}

void BuildDisplay::Finish(bool built) {
  if (finished_) return;
  finished_ = true;
  const int entry = entry_.exchange(-1);
  if (entry >= 0) display_.Done(entry, built ? "built" : "failed");
  display_.Finish();
}

}  // namespace modelcar
