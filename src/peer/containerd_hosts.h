// containerd's registry host configuration (hosts.toml under a hosts directory, e.g.
// /etc/containerd/certs.d/<registry>/hosts.toml) pointing a registry at a node-local mirror, as
// Spegel writes it.
//
// WriteMirrorHosts, for each registry:
//   - the first time, everything already in the directory is moved to <dir>/_backup/ (kept as is,
//     certificates included; a backup that exists is never overwritten, so running again or after
//     a crash keeps the original);
//   - <dir>/<registry>/hosts.toml is written atomically: the registry's `server` (from the backed
//   up
//     file when it had one, else https://<registry>, registry-1.docker.io for docker.io), then the
//     mirror with capabilities ["pull"] (digests only: tags are always resolved by the registry)
//     and a short dial timeout, then the [host] entries the backed up file had, in their order;
//   - other files of the registry's backed up directory (certificates) are copied back beside it.
// RestoreMirrorHosts puts the backup back (what was there before the first Write) and removes it.
//
// Thread safety: none (one agent per directory).
#ifndef MODELCAR_PEER_CONTAINERD_HOSTS_H_
#define MODELCAR_PEER_CONTAINERD_HOSTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace modelcar::peer {

// The hosts.toml text for `registry` with `mirror_url` first. `previous` is the registry's
// earlier hosts.toml ("" when none): its top-level `server` and its [host."..."] sections are kept.
std::string MirrorHostsToml(std::string_view registry, std::string_view mirror_url,
                            std::string_view previous);

Status WriteMirrorHosts(const std::string& dir, const std::vector<std::string>& registries,
                        const std::string& mirror_url);
Status RestoreMirrorHosts(const std::string& dir);

}  // namespace modelcar::peer

#endif  // MODELCAR_PEER_CONTAINERD_HOSTS_H_
