// Re-verification of stored images by re-hashing.
//
// For every layer of a committed tree, the exact layer stream is rebuilt from the layer's
// skeleton and the files in the tree, or for what later layers replaced, in its shadow directory
// (tar/extract_rebuild.h), and hashed; it must equal the
// layer's diff_id (= its blob digest for the uncompressed layers modelcar builds). The manifest
// and config blobs are re-hashed too. A tree that fails is marked corrupt (trees/.../corrupt):
// it no longer counts as present, so the next pull fetches it again and replaces it.
#ifndef MODELCAR_STORE_VERIFY_H_
#define MODELCAR_STORE_VERIFY_H_

#include <string>
#include <vector>

#include "base/status.h"
#include "oci/digest.h"
#include "store/store.h"

namespace modelcar::store {

struct VerifyReport {
  oci::Digest manifest;
  uint64_t bytes_hashed = 0;
  std::vector<std::string> problems;  // empty when the tree is intact
  bool ok() const { return problems.empty(); }
};

// Verifies one tree; marks it corrupt when a problem is found (unless `mark` is false).
Result<VerifyReport> VerifyTree(Store& store, const oci::Digest& m, bool mark = true);

}  // namespace modelcar::store

#endif  // MODELCAR_STORE_VERIFY_H_
