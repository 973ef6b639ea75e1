#include "transfer/copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <thread>

#include "base/crashpoint.h"
#include "base/file.h"
#include "registry/image.h"
#include "registry/parallel.h"
#include "registry/pipe.h"

namespace modelcar {
namespace {

// A streaming GET of a blob feeding a pipe; the first `skip` bytes are dropped.
struct RemoteStream {
  registry::BytePipe pipe;
  std::thread thread;
  RemoteStream(std::shared_ptr<registry::RegistryClient> c, const std::string& repo,
               const oci::Descriptor& d, uint64_t skip) {
    thread = std::thread([this, c, repo, d, skip]() mutable {
      Status s = registry::FetchBlobVerified(*c, repo, d, [&](std::string_view chunk) {
        if (skip > 0) {
          size_t k = std::min<uint64_t>(skip, chunk.size());
          chunk.remove_prefix(k);
          skip -= k;
          if (chunk.empty()) return Status();
        }
        return pipe.Write(chunk);
      });
      if (s.ok()) {
        pipe.Close();
      } else {
        pipe.Fail(s);
      }
    });
  }
  ~RemoteStream() {
    pipe.Fail(Cancelled("stream closed"));
    thread.join();
  }
};

}  // namespace

registry::BlobOpener RegistryBlobOpener(std::shared_ptr<registry::RegistryClient> client,
                                        std::string repo, oci::Descriptor d) {
  return [client, repo, d](uint64_t offset) -> Result<http::BodyReader> {
    auto s = std::make_shared<RemoteStream>(client, repo, d, offset);
    return http::BodyReader([s](char* buf, size_t n) { return s->pipe.Read(buf, n); });
  };
}

registry::BlobOpener FileBlobOpener(std::string path) {
  return [path](uint64_t offset) -> Result<http::BodyReader> {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY | O_CLOEXEC));
    auto state = std::make_shared<std::pair<UniqueFd, uint64_t>>(std::move(fd), offset);
    return http::BodyReader([state, path](char* buf, size_t n) -> Result<size_t> {
      for (;;) {
        ssize_t k = pread(state->first.get(), buf, n, static_cast<off_t>(state->second));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return ErrnoStatus(errno, "read " + path);
        state->second += static_cast<uint64_t>(k);
        return static_cast<size_t>(k);
      }
    });
  };
}

Result<SendResult> SendPlan(const CopyPlan& plan, const Remote& dst, const OpenerFor& open,
                            const std::string& mount_from, const RemoteOptions& o,
                            TransferProgress& progress) {
  registry::RegistryClient& c = *dst.client;
  const std::string& repo = dst.ref.repository();
  std::vector<int> ids;
  for (const oci::Descriptor& d : plan.blobs) {
    auto title = d.annotations.find("org.opencontainers.image.title");
    ids.push_back(progress.Add(d.digest.ToString(), d.size,
                               title == d.annotations.end() ? "" : title->second));
  }
  RETURN_IF_ERROR(registry::ParallelFor(plan.blobs.size(), o.jobs, [&](size_t i) -> Status {
    const oci::Descriptor& d = plan.blobs[i];
    ASSIGN_OR_RETURN(std::optional<int64_t> have, c.HeadBlob(repo, d.digest));
    if (have) {
      progress.Done(ids[i], "exists");
      return Status();
    }
    if (!mount_from.empty()) {
      ASSIGN_OR_RETURN(bool mounted, c.MountBlob(repo, d.digest, mount_from));
      if (mounted) {
        progress.Done(ids[i], "mounted");
        return Status();
      }
    }
    Status s = c.PushBlob(repo, d.digest, static_cast<uint64_t>(d.size), open(d), o.upload_mode,
                          o.chunk_size, [&](int64_t delta) { progress.Bytes(ids[i], delta); });
    progress.Done(ids[i], s.ok() ? "pushed" : "failed");
    if (s.ok()) CrashPoint("push.blob-pushed");
    return s;
  }));
  CrashPoint("push.before-manifest");
  for (const oci::FetchedManifest& m : plan.children) {
    ASSIGN_OR_RETURN(oci::Digest d,
                     c.PutManifest(repo, m.digest.ToString(), m.media_type, m.bytes));
    (void)d;
  }
  oci::Digest top = oci::Sha256Of(plan.top.bytes);
  if (dst.ref.has_digest() && dst.ref.digest() != top) {
    return FailedPrecondition("destination " + dst.ref.ToString() + " names digest " +
                              dst.ref.digest().ToString() + " but the image is " + top.ToString());
  }
  std::string where = !dst.ref.tag().empty() ? dst.ref.tag() : dst.ref.Identifier();
  ASSIGN_OR_RETURN(oci::Digest pushed,
                   c.PutManifest(repo, where, plan.top.media_type, plan.top.bytes));
  return SendResult{pushed, dst.ref.Pinned(pushed)};
}

Result<CopyPlan> PlanRemoteCopy(const Remote& src, bool whole_index) {
  registry::RegistrySource source(src.client, src.ref.repository());
  Result<CopyPlan> planned =
      PlanCopy(source, src.ref.Identifier(), whole_index, oci::HostPlatform());
  if (!planned.ok()) {  // name the image in errors about its content (e.g. an unknown media type)
    Status s = planned.status();
    return s.code() == Code::kInvalidArgument ? s.WithContext(src.ref.ToString()) : s;
  }
  return planned;
}

Result<SendResult> CopyImage(const std::string& src_ref, const std::string& dst_ref,
                             const RemoteOptions& options) {
  ASSIGN_OR_RETURN(Remote src, OpenRemote(src_ref, options));
  RemoteOptions dst_options = options;
  dst_options.require_digest = false;  // the destination gets a tag or the source's digest
  ASSIGN_OR_RETURN(Remote dst, OpenRemote(dst_ref, dst_options));
  ASSIGN_OR_RETURN(CopyPlan plan, PlanRemoteCopy(src, /*whole_index=*/true));
  std::string mount_from;
  if (src.client->base_url() == dst.client->base_url() &&
      src.ref.repository() != dst.ref.repository()) {
    mount_from = src.ref.repository();
  }
  TransferProgress progress(options.progress, "copy");
  auto client = src.client;
  std::string repo = src.ref.repository();
  auto result = SendPlan(
      plan, dst, [&](const oci::Descriptor& d) { return RegistryBlobOpener(client, repo, d); },
      mount_from, options, progress);
  progress.Finish();
  return result;
}

}  // namespace modelcar
