// oci::ImageSource and oci::ImageSink over a registry repository, so that code written against
// those interfaces (build --push, --base REF, inspect REF) works with a registry.
//
// RegistrySource::OpenBlob streams the blob over HTTP through a bounded pipe; the reader fails
// with DataLoss at the end if the bytes do not match the descriptor's digest (the BlobReader
// contract leaves verification to callers; this one verifies anyway).
// RegistrySink::NewBlobWriter streams a blob whose digest is not known in advance as one PATCH;
// Commit sends the final PUT with the digest the writer computed (the registry verifies it too).
// A writer destroyed without Commit cancels its upload; nothing becomes visible.
// PutManifest tags in the repository; an empty tag pushes by digest. Thread-safe as ImageSink
// and ImageSource require.
#ifndef MODELCAR_REGISTRY_IMAGE_H_
#define MODELCAR_REGISTRY_IMAGE_H_

#include <memory>
#include <mutex>
#include <string>

#include "oci/blob_sink.h"
#include "registry/client.h"

namespace modelcar::registry {

class RegistrySource : public oci::ImageSource {
 public:
  RegistrySource(std::shared_ptr<RegistryClient> client, std::string repo)
      : client_(std::move(client)), repo_(std::move(repo)) {}
  Result<oci::FetchedManifest> GetManifest(std::string_view tag_or_digest) override;
  Result<std::unique_ptr<oci::BlobReader>> OpenBlob(const oci::Descriptor& d) override;

 private:
  std::shared_ptr<RegistryClient> client_;
  std::string repo_;
};

class RegistrySink : public oci::ImageSink {
 public:
  RegistrySink(std::shared_ptr<RegistryClient> client, std::string repo)
      : client_(std::move(client)), repo_(std::move(repo)) {}
  Result<std::unique_ptr<oci::BlobWriter>> NewBlobWriter() override;
  Result<bool> HasBlob(const oci::Descriptor& d) override;
  Status PutManifest(std::string_view bytes, std::string_view media_type,
                     std::string_view tag) override;

  // Digest of the last manifest pushed (empty before).
  oci::Digest last_manifest() const;

 private:
  std::shared_ptr<RegistryClient> client_;
  std::string repo_;
  mutable std::mutex mu_;
  oci::Digest last_manifest_;
};

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_IMAGE_H_
