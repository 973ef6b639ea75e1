#include "registry/image.h"

#include <thread>

#include "registry/blob_fetch.h"
#include "registry/pipe.h"

namespace modelcar::registry {
namespace {

class PipeReader : public oci::BlobReader {
 public:
  PipeReader(std::shared_ptr<RegistryClient> c, std::string repo, oci::Descriptor d) {
    thread_ = std::thread([this, c = std::move(c), repo = std::move(repo), d = std::move(d)] {
      Status s = FetchBlobVerified(*c, repo, d,
                                   [&](std::string_view chunk) { return pipe_.Write(chunk); });
      if (s.ok()) {
        pipe_.Close();
      } else {
        pipe_.Fail(s);
      }
    });
  }
  ~PipeReader() override {
    pipe_.Fail(Cancelled("blob reader closed"));
    thread_.join();
  }
  Result<size_t> Read(char* buf, size_t n) override { return pipe_.Read(buf, n); }

 private:
  BytePipe pipe_;
  std::thread thread_;
};

class StreamWriter : public oci::BlobWriter {
 public:
  StreamWriter(std::shared_ptr<RegistryClient> c, std::string repo, std::string location)
      : client_(std::move(c)), repo_(std::move(repo)) {
    thread_ = std::thread([this, location = std::move(location)] {
      Result<std::string> next = client_->PatchStream(
          repo_, location, [this](char* buf, size_t n) { return pipe_.Read(buf, n); });
      if (next.ok()) {
        next_location_ = *next;
      } else {
        upload_status_ = next.status();
        pipe_.Fail(upload_status_);  // unblock the producer
      }
    });
  }
  ~StreamWriter() override {
    if (thread_.joinable()) {
      pipe_.Fail(Cancelled("upload abandoned"));
      thread_.join();
    }
  }
  Status Write(std::string_view data) override {
    hash_.Update(data);
    size_ += data.size();
    return pipe_.Write(data);
  }
  uint64_t size() const override { return size_; }
  Result<oci::Digest> Commit(const std::optional<oci::Digest>& expected) override {
    pipe_.Close();
    thread_.join();
    RETURN_IF_ERROR(upload_status_);
    oci::Digest d = hash_.Finish();
    if (expected && *expected != d) {
      return DataLoss("blob written to " + repo_ + " has digest " + d.ToString() + ", expected " +
                      expected->ToString());
    }
    RETURN_IF_ERROR(client_->CommitUpload(repo_, next_location_, d));
    return d;
  }

 private:
  std::shared_ptr<RegistryClient> client_;
  std::string repo_;
  BytePipe pipe_;
  std::thread thread_;
  oci::Sha256 hash_;
  uint64_t size_ = 0;
  Status upload_status_;
  std::string next_location_;
};

}  // namespace

Result<oci::FetchedManifest> RegistrySource::GetManifest(std::string_view tag_or_digest) {
  ASSIGN_OR_RETURN(ManifestBytes m, client_->GetManifest(repo_, std::string(tag_or_digest)));
  return oci::FetchedManifest{std::move(m.bytes), std::move(m.media_type), m.digest};
}

Result<std::unique_ptr<oci::BlobReader>> RegistrySource::OpenBlob(const oci::Descriptor& d) {
  return std::unique_ptr<oci::BlobReader>(new PipeReader(client_, repo_, d));
}

Result<std::unique_ptr<oci::BlobWriter>> RegistrySink::NewBlobWriter() {
  ASSIGN_OR_RETURN(std::string location, client_->StartUpload(repo_, nullptr));
  return std::unique_ptr<oci::BlobWriter>(new StreamWriter(client_, repo_, location));
}

Result<bool> RegistrySink::HasBlob(const oci::Descriptor& d) {
  ASSIGN_OR_RETURN(std::optional<int64_t> size, client_->HeadBlob(repo_, d.digest));
  return size.has_value() && (*size == d.size || *size < 0);
}

Status RegistrySink::PutManifest(std::string_view bytes, std::string_view media_type,
                                 std::string_view tag) {
  std::string b(bytes);
  oci::Digest d = oci::Sha256Of(b);
  std::string where = tag.empty() ? d.ToString() : std::string(tag);
  ASSIGN_OR_RETURN(oci::Digest pushed,
                   client_->PutManifest(repo_, where, std::string(media_type), b));
  std::lock_guard<std::mutex> lock(mu_);
  last_manifest_ = pushed;
  return Status();
}

oci::Digest RegistrySink::last_manifest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_manifest_;
}

}  // namespace modelcar::registry
