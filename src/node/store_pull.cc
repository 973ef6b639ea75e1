#include "node/store_pull.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "base/crashpoint.h"
#include "base/log.h"
#include "oci/blob_sink.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "oci/reference.h"
#include "peer/peer_source.h"
#include "peer/swarm.h"
#include "registry/blob_fetch.h"
#include "registry/image.h"
#include "store/gc.h"
#include "store/ingest.h"

namespace modelcar {

Result<PullPolicy> ParsePullPolicy(std::string_view s) {
  if (s == "always" || s == "Always") return PullPolicy::kAlways;
  if (s == "if-not-present" || s == "IfNotPresent") return PullPolicy::kIfNotPresent;
  if (s == "never" || s == "Never") return PullPolicy::kNever;
  return InvalidArgument("--pull " + std::string(s) + ": expected always, if-not-present or never");
}

namespace {

// The manifest digest a ref names in the store, if the tree is there.
std::optional<oci::Digest> PresentInStore(store::Store& st, const oci::Reference& ref) {
  if (ref.has_digest() && st.HasTree(ref.digest())) return ref.digest();
  auto r = st.GetRef(ref.ToString());
  if (r.ok() && r->has_value() && st.HasTree(**r)) return **r;
  return std::nullopt;
}

// A peer that could not supply (part of) a blob: the registry takes over.
bool IsPeerShortfall(const Status& s) {
  return s.code() == Code::kNotFound || s.code() == Code::kUnavailable;
}

// Worth one more pull from the registry alone after a pull with peers failed: anything but a
// stop request or a full disk (the bytes of a lying peer show up as a digest mismatch or an
// unreadable layer).
bool RetryWithoutPeers(const Status& s) {
  return s.code() != Code::kCancelled && s.code() != Code::kResourceExhausted &&
         s.code() != Code::kUnauthenticated && s.code() != Code::kPermissionDenied;
}

// Fetches the layers of `image`, whose tree the store does not have, into it: with --peers from
// them first (the registry supplies what they cannot), and after a failure they may have caused,
// once more from the registry alone. Fills the fetch figures of `result`.
Status FetchTree(store::Store& st, const oci::Reference& ref, const oci::ResolvedImage& image,
                 const std::shared_ptr<registry::RegistryClient>& client,
                 const StorePullOptions& options, StorePullResult* result) {
  const oci::Digest& m = image.descriptor.digest;
  ASSIGN_OR_RETURN(uint64_t need, store::ImageBytes(image.manifest.bytes));
  uint64_t have = store::DiskUsage(st.IngestDir(m));
  RETURN_IF_ERROR(
      store::EnsureSpace(st, need > have ? need - have : 0).WithContext("pull " + ref.ToString()));
  std::string repo = ref.repository();
  std::unique_ptr<peer::PeerSource> peers;
  std::unique_ptr<peer::Swarm> swarm;
  if (!options.peers.empty()) {
    // Nodes pulling this image at the same time share the registry's work (peer/swarm.h); peers
    // that hold a layer committed serve it through PeerSource.
    ASSIGN_OR_RETURN(std::string self_id, st.Id());
    ASSIGN_OR_RETURN(oci::Manifest manifest,
                     oci::ParseManifest(image.manifest.bytes, image.descriptor.media_type));
    peer::SwarmOptions so;
    so.peers = options.peers;
    so.store_root = st.root();
    so.self_id = self_id;
    so.log = options.log;
    peer::RegistryRange from_registry = [&client, &repo](const oci::Descriptor& d, uint64_t start,
                                                         uint64_t length, bool exact,
                                                         const peer::Sink& sink) {
      registry::RangeSource source = [&](uint64_t offset, std::optional<uint64_t> end,
                                         const http::BodySink& body) {
        // An exact piece names its end even when it is the blob's: a registry that ignores
        // Range then fails at the headers (Unimplemented) instead of sending the whole blob.
        if (exact && !end) end = static_cast<uint64_t>(d.size);
        return client->GetBlobRange(repo, d.digest, offset, end, body);
      };
      return registry::FetchRange(source, client->retry(), d.digest.ToString(),
                                  static_cast<uint64_t>(d.size), start, start + length,
                                  [&](std::string_view chunk, uint64_t) { return sink(chunk); });
    };
    swarm = std::make_unique<peer::Swarm>(so, from_registry);
    RETURN_IF_ERROR(swarm->Start(repo, manifest.layers));
    peer::PeerSourceOptions po;
    po.peers = swarm->peer_urls();
    po.near.insert(options.peers.begin(),
                   options.peers.begin() + std::min(options.near_peers, options.peers.size()));
    po.log = options.log;
    peers = std::make_unique<peer::PeerSource>(po);
  }
  auto ingest = [&](bool use_peers) {
    store::BlobFetcher fetch = [&](const oci::Descriptor& d, uint64_t offset,
                                   const store::ByteSink& sink) -> Status {
      if (use_peers && swarm->Covers(d.digest)) {
        uint64_t got = 0;
        Status s = swarm->Stream(repo, d, offset, sink, &got);
        if (s.ok() || !IsPeerShortfall(s)) return s;
        offset += got;  // the registry supplies the rest
      } else if (use_peers && oci::IsUncompressedLayer(d.media_type)) {
        uint64_t got = 0;
        Status s = peers->Stream(repo, d, offset, sink, &got);
        if (s.ok() || !IsPeerShortfall(s)) return s;
        offset += got;  // the registry supplies the rest
      }
      return registry::StreamBlob(*client, repo, d, offset, sink);
    };
    store::IngestOptions io;
    io.log = options.log;
    // The manifest was read already: a registry that wants credentials has asked for them.
    io.pulled_with_credentials = client->used_credentials();
    return store::IngestImage(st, m, image.manifest.bytes, image.descriptor.media_type, fetch, io);
  };
  Result<store::IngestResult> pulled = ingest(peers != nullptr);
  auto from_peers = [&] {
    return peers ? peers->stats().bytes + swarm->stats().peer_bytes : uint64_t{0};
  };
  if (swarm) swarm->Finish(/*keep=*/pulled.ok());
  if (!pulled.ok() && peers && from_peers() > 0 && RetryWithoutPeers(pulled.status())) {
    if (options.log) {
      options.log("pull " + ref.ToString() + " with peers failed (" + pulled.status().ToString() +
                  "); pulling again from the registry alone");
    }
    pulled = ingest(false);
    // A partial layer holding peer bytes fails its digest and is discarded: start it over.
    if (!pulled.ok() && pulled.status().code() == Code::kDataLoss) pulled = ingest(false);
  } else if (pulled.ok() && peers) {
    result->peer_bytes = from_peers();
  }
  ASSIGN_OR_RETURN(store::IngestResult ir, std::move(pulled));
  result->already_present = ir.already_present;
  result->fetched_bytes = ir.fetched_bytes;
  result->resumed_bytes = ir.resumed_bytes;
  return Status();
}

}  // namespace

Result<oci::Digest> ResolveInStore(store::Store& st, const std::string& ref_text) {
  if (auto d = oci::Digest::Parse(ref_text); d.ok()) {
    if (st.HasTree(*d) || st.IsCorrupt(*d)) return *d;
  }
  ASSIGN_OR_RETURN(oci::Reference ref, oci::Reference::Parse(ref_text));
  if (ref.has_digest()) {
    if (st.HasTree(ref.digest()) || st.IsCorrupt(ref.digest())) return ref.digest();
  }
  ASSIGN_OR_RETURN(auto r, st.GetRef(ref.ToString()));
  if (r) return *r;
  return NotFound(ref.ToString() + " is not in the store " + st.root());
}

Result<StorePullResult> PullToStore(const std::string& ref_text, const StorePullOptions& options) {
  ASSIGN_OR_RETURN(oci::Reference ref, oci::Reference::Parse(ref_text));
  ASSIGN_OR_RETURN(store::Store st, store::Store::Open(options.store_dir));
  StorePullResult result;

  if (options.policy != PullPolicy::kAlways) {
    if (auto m = PresentInStore(st, ref)) {
      (void)st.Touch(*m);
      result.manifest = *m;
      result.pinned = ref.Pinned(*m);
      result.rootfs = st.RootfsDir(*m);
      result.already_present = true;
      return result;
    }
    if (options.policy == PullPolicy::kNever) {
      return FailedPrecondition(ref.ToString() + " is not in the store " + st.root() +
                                " and --pull never forbids fetching it");
    }
  }

  result.network_used = true;
  ASSIGN_OR_RETURN(auto client, registry::RegistryClient::Create(ref, options.registry));
  registry::RegistrySource source(client, ref.repository());
  Result<oci::ResolvedImage> resolved =
      oci::ResolveImage(source, ref.Identifier(), oci::HostPlatform());
  if (!resolved.ok()) {  // name the image in errors about its content (e.g. an unknown media type)
    Status s = resolved.status();
    return s.code() == Code::kInvalidArgument ? s.WithContext(ref.ToString()) : s;
  }
  oci::ResolvedImage image = std::move(*resolved);
  const oci::Digest m = image.descriptor.digest;
  result.manifest = m;
  result.pinned = ref.Pinned(m);
  result.rootfs = st.RootfsDir(m);

  // Nothing is fetched or recorded for an image whose layers the store cannot unpack.
  RETURN_IF_ERROR(store::CheckUnpackable(image.manifest.bytes).WithContext(ref.ToString()));
  // Refs first: a gc running between the commit and the end of this pull must not see the new
  // tree as unreferenced.
  RETURN_IF_ERROR(st.SetRef(ref.ToString(), m));
  CrashPoint("pull.ref-set");
  if (!st.HasTree(m)) {
    RETURN_IF_ERROR(FetchTree(st, ref, image, client, options, &result));
  } else {
    result.already_present = true;
    (void)st.Touch(m);
  }
  if (ref.has_digest() && ref.digest() != m)
    RETURN_IF_ERROR(st.SetRef(ref.Pinned(ref.digest()), m));
  return result;
}

Result<std::string> PullToStoreForCli(const std::string& ref, const std::string& store_dir,
                                      const std::string& policy,
                                      const registry::RegistryOptions& registry,
                                      bool require_digest, const std::vector<std::string>& peers) {
  StorePullOptions o;
  ASSIGN_OR_RETURN(o.policy, ParsePullPolicy(policy));
  ASSIGN_OR_RETURN(oci::Reference parsed, oci::Reference::Parse(ref));
  if (require_digest && !parsed.has_digest()) {
    return FailedPrecondition(ref + " has no @sha256: digest and --require-digest is set");
  }
  o.store_dir = store_dir;
  o.registry = registry;
  o.peers = peers;
  o.log = [](std::string_view l) { LogInfo("{}", l); };
  ASSIGN_OR_RETURN(StorePullResult r, PullToStore(ref, o));
  if (r.network_used) {
    LogInfo("{}: fetched {} bytes ({} from peers), resumed {} bytes{}", r.pinned, r.fetched_bytes,
            r.peer_bytes, r.resumed_bytes, r.already_present ? " (tree already in the store)" : "");
  } else {
    LogInfo("{}: present in the store, no network used", r.pinned);
  }
  return r.pinned;
}

}  // namespace modelcar
