#include "registry/blob_fetch.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/crashpoint.h"
#include "base/file.h"
#include "registry/parts_file.h"

namespace modelcar::registry {
namespace {

using Writer = RangeWriter;

std::string BlobName(const std::string& repo, const oci::Descriptor& d) {
  return "blob " + d.digest.ToString() + " of " + repo;
}

// FetchRange from the registry.
Status FetchRange(RegistryClient& c, const std::string& repo, const oci::Descriptor& d,
                  uint64_t start, uint64_t end, const Writer& write) {
  RangeSource source = [&](uint64_t offset, std::optional<uint64_t> range_end,
                           const http::BodySink& sink) {
    return c.GetBlobRange(repo, d.digest, offset, range_end, sink);
  };
  return FetchRange(source, c.retry(), BlobName(repo, d), static_cast<uint64_t>(d.size), start, end,
                    write);
}

Status PwriteAll(int fd, std::string_view data, uint64_t offset, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return Status();
}

// Hashes [from, to) of `fd` into `h`.
Status HashFileRange(int fd, uint64_t from, uint64_t to, oci::Sha256& h, std::string& buf,
                     const std::string& path) {
  while (from < to) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), to - from));
    ssize_t n = pread(fd, buf.data(), want, static_cast<off_t>(from));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? ErrnoStatus(errno, "read " + path) : DataLoss(path + ": short read");
    h.Update(buf.data(), static_cast<size_t>(n));
    from += static_cast<uint64_t>(n);
  }
  return Status();
}

// Downloads the missing bytes of `parts` (of [have, size)) in parallel while hashing in order into
// `h`; each part's progress is recorded in `record`. On return `*hashed` is the end of the
// contiguous prefix that was written and hashed.
Status FetchParallel(RegistryClient& c, const std::string& repo, const oci::Descriptor& d, int fd,
                     const std::string& path, uint64_t have, Parts& parts, PartsFile& record,
                     const FetchOptions& o, oci::Sha256& h, uint64_t* hashed,
                     const ByteCounter& on_bytes) {
  const uint64_t size = static_cast<uint64_t>(d.size);
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<size_t> next{0};
  std::atomic<bool> abort{false};
  Status first_error;
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < parts.size() && !abort.load();) {
      Part& p = *parts[i];
      if (p.start + p.done.load() == p.end) continue;  // done before an interruption
      Status s = FetchRange(c, repo, d, p.start + p.done.load(), p.end,
                            [&](std::string_view chunk, uint64_t off) {
                              if (abort.load()) return Cancelled("aborted");
                              RETURN_IF_ERROR(PwriteAll(fd, chunk, off, path));
                              uint64_t done = p.done.fetch_add(chunk.size()) + chunk.size();
                              RETURN_IF_ERROR(record.Update(i, done));
                              CrashPoint("pull.part-bytes");
                              if (on_bytes) on_bytes(static_cast<int64_t>(chunk.size()));
                              std::lock_guard<std::mutex> lock(mu);
                              cv.notify_all();
                              return Status();
                            });
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = s;
        abort.store(true);
        cv.notify_all();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  int n_threads = static_cast<int>(std::min<size_t>(parts.size(), std::max(o.max_parts, 1)));
  for (int i = 0; i < n_threads; ++i) threads.emplace_back(worker);

  std::string buf(4 << 20, '\0');
  uint64_t w = have;
  WritebackPacer writeback;
  Status status;
  size_t part = 0;
  while (w < size) {
    while (parts[part]->end <= w) ++part;
    Part& p = *parts[part];
    uint64_t avail;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return abort.load() || p.start + p.done.load() > w; });
      avail = p.start + p.done.load();
    }
    if (avail <= w) break;  // aborted
    status = HashFileRange(fd, w, avail, h, buf, path);
    if (!status.ok()) {
      abort.store(true);
      break;
    }
    w = avail;
    writeback.Wrote(fd, w);
  }
  for (auto& t : threads) t.join();
  *hashed = w;
  if (!status.ok()) return status;
  return first_error;
}

}  // namespace

Status FetchRange(const RangeSource& source, const RetryPolicy& policy, const std::string& what,
                  uint64_t size, uint64_t start, uint64_t end, const RangeWriter& write) {
  uint64_t pos = start;
  int failures = 0;
  while (pos < end) {
    uint64_t before = pos;
    std::optional<uint64_t> range_end;
    if (end != size) range_end = end;
    Status s = source(pos, range_end, [&](std::string_view chunk) {
      if (chunk.size() > end - pos) {  // nothing of this chunk is kept: retried from `pos`
        return Unavailable(
            fmt::format("{}: the source sent more than the {} bytes asked for", what, end - pos));
      }
      RETURN_IF_ERROR(write(chunk, pos));
      pos += chunk.size();
      return Status();
    });
    if (s.ok() && pos < end) {
      s = Unavailable(fmt::format("{}: body ended after {} of {} bytes", what, pos, end));
    }
    if (s.ok()) return s;
    if (s.code() != Code::kUnavailable) return s;
    failures = pos > before ? 1 : failures + 1;
    if (failures >= policy.max_attempts) {
      return s.WithContext(fmt::format("gave up after {} attempts without progress", failures));
    }
    RETURN_IF_ERROR(SleepUnlessCancelled(BackoffDelay(policy, failures, std::nullopt)));
  }
  return Status();
}

Status FetchBlobToFile(RegistryClient& c, const std::string& repo, const oci::Descriptor& d,
                       const std::string& final_path, const std::string& partial_path,
                       const FetchOptions& o, const ByteCounter& on_bytes) {
  const uint64_t size = static_cast<uint64_t>(d.size);
  const std::string parts_path = partial_path + ".parts";
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(partial_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat " + partial_path);
  uint64_t have = static_cast<uint64_t>(st.st_size);
  // An interrupted parallel download resumes each part; otherwise the file is a prefix.
  Parts parts = PartsFile::Load(parts_path, size, have);
  if (!parts.empty()) {
    have = parts.front()->start;
  } else {
    ::unlink(parts_path.c_str());
    if (have > size) {
      if (ftruncate(fd.get(), 0) != 0) return ErrnoStatus(errno, "truncate " + partial_path);
      have = 0;
    }
  }
  oci::Sha256 h;
  std::string buf(4 << 20, '\0');
  RETURN_IF_ERROR(HashFileRange(fd.get(), 0, have, h, buf, partial_path));
  if (on_bytes && have) on_bytes(static_cast<int64_t>(have));

  uint64_t hashed = have;
  Status s;
  if (parts.empty() && o.part_size > 0 && size - have >= 2 * o.part_size && o.max_parts > 1) {
    parts = SplitParts(have, size, o.part_size);
  }
  if (!parts.empty()) {
    auto written = [&] {
      uint64_t n = 0;
      for (const auto& p : parts) n += p->done.load();
      return n;
    };
    if (on_bytes && written() > 0) on_bytes(static_cast<int64_t>(written()));
    ASSIGN_OR_RETURN(PartsFile record, PartsFile::Create(parts_path, parts));
    s = FetchParallel(c, repo, d, fd.get(), partial_path, have, parts, record, o, h, &hashed,
                      on_bytes);
    if (!s.ok() && s.code() != Code::kUnimplemented) return s;  // the parts file keeps progress
    ::unlink(parts_path.c_str());
    if (!s.ok()) {  // registry ignores Range: one stream from the hashed prefix
      if (on_bytes) on_bytes(-static_cast<int64_t>(written() - (hashed - have)));
      (void)ftruncate(fd.get(), static_cast<off_t>(hashed));
      s = Status();
    }
  }
  if (s.ok() && hashed < size) {
    WritebackPacer writeback;
    s = FetchRange(c, repo, d, hashed, size, [&](std::string_view chunk, uint64_t off) {
      RETURN_IF_ERROR(PwriteAll(fd.get(), chunk, off, partial_path));
      CrashPoint("pull.blob-bytes");
      h.Update(chunk);
      hashed = off + chunk.size();
      writeback.Wrote(fd.get(), hashed);
      if (on_bytes) on_bytes(static_cast<int64_t>(chunk.size()));
      return Status();
    });
  }
  if (!s.ok()) {
    // Keep only the contiguous, hashed prefix: the next run resumes after it.
    (void)ftruncate(fd.get(), static_cast<off_t>(hashed));
    return s;
  }
  oci::Digest got = h.Finish();
  if (got != d.digest) {
    unlink(partial_path.c_str());
    if (on_bytes) on_bytes(-static_cast<int64_t>(size));
    return DataLoss(BlobName(c.registry() + "/" + repo, d) +
                    ": the registry sent bytes whose digest is " + got.ToString() +
                    "; discarded them");
  }
  if (fdatasync(fd.get()) != 0) return ErrnoStatus(errno, "fsync " + partial_path);
  if (rename(partial_path.c_str(), final_path.c_str()) != 0) {
    return ErrnoStatus(errno, "rename " + partial_path + " to " + final_path);
  }
  CrashPoint("pull.blob-verified");
  return Status();
}

Status StreamBlob(RegistryClient& c, const std::string& repo, const oci::Descriptor& d,
                  uint64_t offset, const http::BodySink& sink) {
  if (d.size < 0 || offset > static_cast<uint64_t>(d.size)) {
    return InvalidArgument(
        fmt::format("{}: offset {} is past its size {}", BlobName(repo, d), offset, d.size));
  }
  return FetchRange(c, repo, d, offset, static_cast<uint64_t>(d.size),
                    [&](std::string_view chunk, uint64_t) { return sink(chunk); });
}

Status FetchBlobVerified(RegistryClient& c, const std::string& repo, const oci::Descriptor& d,
                         const http::BodySink& sink) {
  oci::Sha256 h;
  uint64_t size = static_cast<uint64_t>(d.size);
  RETURN_IF_ERROR(FetchRange(c, repo, d, 0, size, [&](std::string_view chunk, uint64_t) {
    h.Update(chunk);
    return sink(chunk);
  }));
  oci::Digest got = h.Finish();
  if (got != d.digest) {
    return DataLoss(BlobName(c.registry() + "/" + repo, d) +
                    ": the registry sent bytes whose digest is " + got.ToString());
  }
  return Status();
}

}  // namespace modelcar::registry
