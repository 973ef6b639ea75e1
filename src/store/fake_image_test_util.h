// FakeImage: an in-memory OCI image for the tests of the store and of what serves from it (peer/):
// blobs by digest, a manifest, and a BlobFetcher that can fail on purpose. Include from *_test.cc
// only.
#ifndef MODELCAR_STORE_FAKE_IMAGE_TEST_UTIL_H_
#define MODELCAR_STORE_FAKE_IMAGE_TEST_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "oci/descriptor.h"
#include "oci/digest.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "store/ingest.h"
#include "tar/reader_test_util.h"

namespace modelcar::store::testing {

// An in-memory image: blobs by digest, a manifest, and a fetcher that can fail on purpose.
struct FakeImage {
  std::map<oci::Digest, std::string> blobs;
  std::string manifest;
  oci::Digest digest;
  uint64_t fail_after = UINT64_MAX;  // bytes served before a simulated connection drop
  uint64_t served = 0;

  oci::Descriptor Add(const std::string& bytes, std::string_view media_type) {
    oci::Descriptor d;
    d.media_type = std::string(media_type);
    d.digest = oci::Sha256Of(bytes);
    d.size = static_cast<int64_t>(bytes.size());
    blobs[d.digest] = bytes;
    return d;
  }

  void Build(const std::vector<std::pair<std::string, std::string>>& layers /*tar, media*/) {
    oci::ImageConfig cfg;
    cfg.architecture = "amd64";
    cfg.os = "linux";
    oci::Manifest m;
    m.media_type = std::string(oci::kOciManifest);
    for (const auto& [layer, media] : layers) {
      cfg.diff_ids.push_back(oci::Sha256Of(layer));
      m.layers.push_back(
          Add(media == oci::kOciLayerTarGzip ? tar::testing::Gzip(layer) : layer, media));
    }
    m.config = Add(oci::SerializeImageConfig(cfg), oci::kOciConfig);
    manifest = oci::SerializeManifest(m);
    digest = oci::Sha256Of(manifest);
  }

  BlobFetcher Fetcher() {
    return [this](const oci::Descriptor& d, uint64_t offset, const ByteSink& sink) -> Status {
      auto it = blobs.find(d.digest);
      if (it == blobs.end()) return NotFound("blob " + d.digest.ToString());
      std::string_view b = it->second;
      b.remove_prefix(offset);
      while (!b.empty()) {
        size_t n = std::min<size_t>(b.size(), 1000);
        if (served + n > fail_after) return Unavailable("simulated connection drop");
        served += n;
        RETURN_IF_ERROR(sink(b.substr(0, n)));
        b.remove_prefix(n);
      }
      return Status();
    };
  }
};

}  // namespace modelcar::store::testing

#endif  // MODELCAR_STORE_FAKE_IMAGE_TEST_UTIL_H_
