// BuildDisplay: the progress of `modelcar build` (image/build.h's BuildProgress) shown through
// TransferProgress, the display push, pull and copy use: the build's lines as messages (above the
// bars on a tty, as they are in plain mode, "message" events in json), the model bytes written as
// one entry titled "model files" (a bar with rate and ETA on a tty; one line or "done" event when
// it finishes). No summary line: the build command prints its own result.
//
// Thread safety: the BuildProgress methods may be called from the build's worker threads; Total
// is called before any Advance of the same build (image/build.h). A build run again (build --push
// after a broken upload) calls Total again: the unfinished entry is marked "failed" and a new one
// starts.
#ifndef MODELCAR_TRANSFER_BUILD_DISPLAY_H_
#define MODELCAR_TRANSFER_BUILD_DISPLAY_H_

#include <atomic>
#include <cstdint>
#include <string_view>

#include "image/build.h"
#include "transfer/progress.h"

namespace modelcar {

class BuildDisplay : public BuildProgress {
 public:
  explicit BuildDisplay(ProgressMode mode);
  ~BuildDisplay() override;  // Finish(false) unless Finish was called

  void Line(std::string_view line) override;
  void Total(uint64_t bytes) override;
  void Advance(uint64_t n) override;

  // Marks the model bytes "built" (or "failed") and stops the display. Idempotent.
  void Finish(bool built);

 private:
  TransferProgress display_;
  std::atomic<int> entry_{-1};  // the current build's entry in display_
  bool finished_ = false;
};

}  // namespace modelcar

#endif  // MODELCAR_TRANSFER_BUILD_DISPLAY_H_
