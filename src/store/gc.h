// Garbage collection and disk sizing for the store.
//
// Policy (pure functions, unit-tested without a filesystem):
//   - BytesToFree: how much to evict for --max-size (store above its cap) and for kubelet-style
//     free-disk watermarks (usage of the store's filesystem above `high_percent` → evict down to
//     `low_percent`; defaults 85 / 80 like kubelet's image GC);
//   - PlanEviction: least recently used first, never a leased tree, until the bytes are freed.
// RunGc applies them: it also removes trees nothing refers to (no ref, no lease), empties the
// trash and drops abandoned ingest trees (unlocked, older than `ingest_max_age_s`).
// A tree is removed only while its image lock is held exclusively (a pull or mount in progress
// holds it, so gc skips that image), and only if it has no live lease.
#ifndef MODELCAR_STORE_GC_H_
#define MODELCAR_STORE_GC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "oci/digest.h"
#include "store/store.h"

namespace modelcar::store {

struct GcPolicy {
  std::optional<uint64_t> max_size;  // bytes the store may hold
  bool watermarks = true;
  double high_percent = 85;
  double low_percent = 80;
  bool remove_unreferenced = true;  // trees no ref points to
  int64_t ingest_max_age_s = 24 * 3600;
};

struct GcCandidate {
  oci::Digest digest;
  uint64_t bytes = 0;
  int64_t last_use = 0;
  bool leased = false;
};

struct FsUsage {
  uint64_t total = 0;
  uint64_t free = 0;  // available to unprivileged users (f_bavail)
};

// Bytes to evict so that the store fits `policy` (0 when it already does).
uint64_t BytesToFree(uint64_t store_bytes, const FsUsage& fs, const GcPolicy& policy);

// Unleased candidates in eviction order (least recently used first, ties by digest) whose sizes
// add up to at least `need` (all unleased ones if they do not).
std::vector<oci::Digest> PlanEviction(std::vector<GcCandidate> candidates, uint64_t need);

Result<FsUsage> FilesystemUsage(const std::string& path);

// "123", "10K", "512M", "1.5G", "2T" (powers of 1024; an optional trailing "i"/"iB"/"B").
Result<uint64_t> ParseByteSize(std::string_view s);
// 1536 -> "1.5 KiB" (base/human_bytes.h, steps of 1024).
std::string FormatBytes(uint64_t n);

struct GcReport {
  std::vector<oci::Digest> removed;
  std::vector<oci::Digest> skipped_busy;  // lock held by a pull or mount
  uint64_t freed_bytes = 0;
};

// Runs gc on `store` (serialized by locks/gc.lock). `extra_need`: bytes a coming pull needs
// beyond the current free space (evicted LRU first, like the watermark case).
Result<GcReport> RunGc(Store& store, const GcPolicy& policy, uint64_t extra_need = 0);

// Makes room for a pull of `need` bytes on the store's filesystem: evicts unleased trees (LRU)
// if that is enough, else fails with ResourceExhausted stating needed and free bytes.
Status EnsureSpace(Store& store, uint64_t need);

}  // namespace modelcar::store

#endif  // MODELCAR_STORE_GC_H_
