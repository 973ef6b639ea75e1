#include "store/verify.h"

#include <fmt/format.h>

#include "base/crashpoint.h"
#include "base/file.h"
#include "tar/extract_rebuild.h"

namespace modelcar::store {

Result<VerifyReport> VerifyTree(Store& store, const oci::Digest& m, bool mark) {
  VerifyReport report;
  report.manifest = m;
  ASSIGN_OR_RETURN(TreeInfo tree, store.ReadTree(m));
  for (const oci::Digest& d : {tree.manifest, tree.config}) {
    auto blob = store.ReadBlob(d);
    if (!blob.ok()) report.problems.push_back(blob.status().message());
  }
  std::string dir = store.TreeDir(m);
  for (size_t i = 0; i < tree.layers.size(); ++i) {
    const LayerRecord& l = tree.layers[i];
    std::string skel_path = fmt::format("{}/layers/{}.skel", dir, i);
    auto skel = ReadFile(skel_path, 256 << 20);
    if (!skel.ok()) {
      report.problems.push_back("layer " + l.digest.ToString() + ": " + skel.status().message());
      continue;
    }
    oci::Sha256 h;
    Status s = tar::RebuildStream(*skel, store.LayerDataDirs(m, i, tree.layers.size()),
                                  [&h](std::string_view b) {
                                    h.Update(b);
                                    return Status();
                                  });
    report.bytes_hashed += h.bytes();
    CrashPoint("verify.layer-hashed");
    if (!s.ok()) {
      report.problems.push_back("layer " + l.digest.ToString() + ": " + s.message());
      continue;
    }
    oci::Digest got = h.Finish();
    if (got != l.diff_id) {
      report.problems.push_back("layer " + l.digest.ToString() + ": content on disk hashes to " +
                                got.ToString() + ", expected " + l.diff_id.ToString());
    }
  }
  if (!report.ok() && mark) {
    CrashPoint("verify.before-mark");
    std::string text;
    for (const std::string& p : report.problems) text += p + "\n";
    RETURN_IF_ERROR(WriteFileAtomic(dir + "/corrupt", text));
  }
  return report;
}

}  // namespace modelcar::store
