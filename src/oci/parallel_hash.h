// A SHA-256 that hashes large pieces on a helper thread while the caller does something else
// with the same bytes (typically write(2) them), so that hashing and copying use two cores.
//
//   ParallelSha256 h;
//   h.Begin(data);               // starts hashing `data` on the helper thread
//   Status st = WriteAll(fd, data, ...);
//   h.End();                     // waits until `data` is hashed; `data` may be reused after
//   ...  Digest d = h.Finish();
//
// REQUIRES: Begin/End strictly alternate; `data` stays valid and unchanged until End returns.
// Not thread-safe (one producer); the helper thread is internal.
#ifndef MODELCAR_OCI_PARALLEL_HASH_H_
#define MODELCAR_OCI_PARALLEL_HASH_H_

#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>

#include "oci/digest.h"

namespace modelcar::oci {

class ParallelSha256 {
 public:
  ParallelSha256() = default;
  ~ParallelSha256();
  ParallelSha256(const ParallelSha256&) = delete;
  ParallelSha256& operator=(const ParallelSha256&) = delete;

  void Begin(std::string_view data);
  void End();
  // Hashes `data` on the calling thread (for small pieces). REQUIRES: no Begin pending.
  void Update(std::string_view data) { hash_.Update(data); }
  // REQUIRES: no Begin pending.
  Digest Finish() { return hash_.Finish(); }

 private:
  void Loop();
  Sha256 hash_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string_view job_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;  // started by the first Begin
};

}  // namespace modelcar::oci

#endif  // MODELCAR_OCI_PARALLEL_HASH_H_
