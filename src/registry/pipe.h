// A bounded in-memory byte pipe between one producer thread and one consumer thread, used to turn
// curl's push-style transfers into pull-style readers (and back). Close() ends the stream; Fail()
// makes both sides see an error. Thread-safe for one producer and one consumer.
#ifndef MODELCAR_REGISTRY_PIPE_H_
#define MODELCAR_REGISTRY_PIPE_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::registry {

class BytePipe {
 public:
  explicit BytePipe(size_t capacity = 16 << 20) : capacity_(capacity) {}

  // Blocks while the pipe is full. Fails with the pipe's error after Fail().
  Status Write(std::string_view data);
  // No more data will be written.
  void Close();
  // Both sides fail with `s` from now on. The first failure wins.
  void Fail(Status s);
  // Blocks until data, end of stream (returns 0) or failure.
  Result<size_t> Read(char* buf, size_t n);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  size_t front_pos_ = 0;
  size_t buffered_ = 0;
  size_t capacity_;
  bool closed_ = false;
  Status error_;
};

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_PIPE_H_
