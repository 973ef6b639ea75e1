#include "registry/pipe.h"

#include <algorithm>
#include <cstring>

namespace modelcar::registry {

Status BytePipe::Write(std::string_view data) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !error_.ok() || buffered_ < capacity_; });
  if (!error_.ok()) return error_;
  chunks_.emplace_back(data);
  buffered_ += data.size();
  cv_.notify_all();
  return Status();
}

void BytePipe::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void BytePipe::Fail(Status s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error_.ok()) error_ = std::move(s);
  cv_.notify_all();
}

Result<size_t> BytePipe::Read(char* buf, size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !error_.ok() || !chunks_.empty() || closed_; });
  if (!error_.ok()) return error_;
  size_t copied = 0;
  while (copied < n && !chunks_.empty()) {
    std::string& c = chunks_.front();
    size_t k = std::min(n - copied, c.size() - front_pos_);
    std::memcpy(buf + copied, c.data() + front_pos_, k);
    copied += k;
    front_pos_ += k;
    if (front_pos_ == c.size()) {
      chunks_.pop_front();
      front_pos_ = 0;
    }
  }
  buffered_ -= copied;
  cv_.notify_all();
  return copied;
}

}  // namespace modelcar::registry
