// Transfer progress for push, pull, copy and build (the one progress display), written to stderr.
//
// Modes: "tty" redraws one bar per active blob (rate, ETA) a few times a second; "plain" prints one
// line per finished blob; "json" prints one JSON object per line ({"event":"start"|"progress"|
// "done"|"message", "digest", "size", "bytes", "status", "seconds", "message"}); "none" prints
// nothing. "auto" is tty when stderr is a terminal, else plain. Never prints credentials (it only
// knows digests, titles and the messages it is given).
//
// Thread safety: all methods are thread-safe; Bytes() is cheap (an atomic add).
#ifndef MODELCAR_TRANSFER_PROGRESS_H_
#define MODELCAR_TRANSFER_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"

namespace modelcar {

enum class ProgressMode { kAuto, kTty, kPlain, kJson, kNone };
Result<ProgressMode> ParseProgressMode(std::string_view s);

class TransferProgress {
 public:
  // verb: "push", "pull", "copy", "build". `summary`: Finish prints the summary line/event.
  TransferProgress(ProgressMode mode, std::string verb, bool summary = true);
  ~TransferProgress();  // stops the redraw thread (calls Finish)
  TransferProgress(const TransferProgress&) = delete;
  TransferProgress& operator=(const TransferProgress&) = delete;

  // Registers a blob; returns its id for Bytes/Done. `digest` (not known yet while a blob is
  // made) and `title` may be empty.
  int Add(const std::string& digest, int64_t size, const std::string& title);
  // `delta` bytes of blob `id` moved (negative: bytes discarded before a retry).
  void Bytes(int id, int64_t delta);
  // Blob `id` finished: status is "pushed", "pulled", "copied", "built", "exists", "mounted",
  // "failed".
  void Done(int id, std::string_view status);
  // A line of text (no newline) for the user: printed above the bars (tty), as is (plain), as a
  // "message" event (json); dropped by "none".
  void Message(std::string_view line);
  // Stops redrawing and prints a summary line (plain/tty) or a "summary" event (json).
  void Finish();

 private:
  struct Blob {
    std::string digest, title;
    int64_t size = 0;
    std::atomic<int64_t> bytes{0};
    std::chrono::steady_clock::time_point start;
    bool done = false;
  };
  void Loop();
  void Draw(bool final);
  std::string EraseBars();
  void Emit(const std::string& line);

  ProgressMode mode_;
  std::string verb_;
  bool summary_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Blob>> blobs_;
  int drawn_lines_ = 0;
  bool stop_ = false;
  bool finished_ = false;
  std::thread thread_;
};

}  // namespace modelcar

#endif  // MODELCAR_TRANSFER_PROGRESS_H_
