#include "oci/blob_sink.h"

#include <fmt/format.h>

#include <vector>

#include "oci/manifest.h"
#include "oci/media_types.h"

namespace modelcar::oci {

Result<std::string> ReadBlobVerified(ImageSource& source, const Descriptor& d, uint64_t max_bytes) {
  const std::string name = "blob " + d.digest.ToString();
  if (static_cast<uint64_t>(d.size) > max_bytes) {
    return ResourceExhausted(
        fmt::format("{} is {} bytes, over the limit of {}", name, d.size, max_bytes));
  }
  ASSIGN_OR_RETURN(auto reader, source.OpenBlob(d));
  std::string out;
  out.reserve(static_cast<size_t>(d.size));
  char buf[1 << 16];
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, reader->Read(buf, sizeof buf));
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() > static_cast<uint64_t>(d.size)) {
      return DataLoss(fmt::format("{} is longer than its descriptor's size {}", name, d.size));
    }
  }
  if (out.size() != static_cast<uint64_t>(d.size)) {
    return DataLoss(fmt::format("{} has {} bytes, expected {}", name, out.size(), d.size));
  }
  Digest got = Sha256Of(out);
  if (got != d.digest) return DataLoss(name + " has the wrong content (sha256 " + got.hex() + ")");
  return out;
}

Status CopyBlob(ImageSource& source, ImageSink& sink, const Descriptor& d, size_t buf_size) {
  ASSIGN_OR_RETURN(bool has, sink.HasBlob(d));
  if (has) return Status();
  ASSIGN_OR_RETURN(auto reader, source.OpenBlob(d));
  ASSIGN_OR_RETURN(auto writer, sink.NewBlobWriter());
  std::vector<char> buf(buf_size);
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, reader->Read(buf.data(), buf.size()));
    if (n == 0) break;
    RETURN_IF_ERROR(writer->Write(std::string_view(buf.data(), n)));
  }
  if (writer->size() != static_cast<uint64_t>(d.size)) {
    return DataLoss(fmt::format("blob {} has {} bytes, expected {}", d.digest.ToString(),
                                writer->size(), d.size));
  }
  ASSIGN_OR_RETURN(Digest got, writer->Commit(d.digest));
  (void)got;
  return Status();
}

Result<ResolvedImage> ResolveImage(ImageSource& source, std::string_view tag_or_digest,
                                   const Platform& platform) {
  ASSIGN_OR_RETURN(FetchedManifest fetched, source.GetManifest(tag_or_digest));
  std::string type = fetched.media_type;
  if (type.empty()) {
    ASSIGN_OR_RETURN(type, SniffMediaType(fetched.bytes));
  }
  if (type.empty()) type = std::string(kOciManifest);
  if (IsIndexType(type)) {
    ASSIGN_OR_RETURN(Index index, ParseIndex(fetched.bytes, type));
    const Descriptor* pick = nullptr;
    for (const Descriptor& m : index.manifests) {
      if (!m.platform || !IsManifestType(m.media_type)) continue;
      if (m.platform->os != platform.os || m.platform->architecture != platform.architecture) {
        continue;
      }
      if (!platform.variant.empty() && !m.platform->variant.empty() &&
          m.platform->variant != platform.variant) {
        continue;
      }
      pick = &m;
      break;
    }
    if (pick == nullptr) {
      return NotFound("image " + std::string(tag_or_digest) + " has no manifest for " +
                      platform.os + "/" + platform.architecture);
    }
    Descriptor chosen = *pick;
    ASSIGN_OR_RETURN(FetchedManifest inner, source.GetManifest(chosen.digest.ToString()));
    if (inner.digest != chosen.digest) {
      return DataLoss("manifest " + chosen.digest.ToString() + " has the wrong content");
    }
    if (inner.media_type.empty()) inner.media_type = chosen.media_type;
    return ResolvedImage{std::move(inner), std::move(chosen)};
  }
  if (!IsManifestType(type)) {
    return InvalidArgument("image " + std::string(tag_or_digest) + " has media type \"" + type +
                           "\", which is not an image manifest or index");
  }
  Descriptor d;
  d.media_type = type;
  d.digest = fetched.digest;
  d.size = static_cast<int64_t>(fetched.bytes.size());
  fetched.media_type = type;
  return ResolvedImage{std::move(fetched), std::move(d)};
}

}  // namespace modelcar::oci
