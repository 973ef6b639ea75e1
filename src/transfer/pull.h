// `modelcar pull REF --layout DIR[:TAG]`: fetches an image from a registry into an OCI layout.
//
// An index is resolved to the manifest of the host platform. Blobs are fetched `jobs` at a time,
// big ones as parallel ranged parts (registry/blob_fetch.h), into an ingest directory next to the
// layout (".<name>.modelcar-pull/"): partial blobs as <hex> (resumed from the bytes already there
// after Ctrl-C, a network loss or kill -9), verified ones as blobs/<hex> (never fetched again).
// When every blob is verified they are renamed into the layout (one write per byte), blobs the
// layout already has are skipped, and index.json is replaced last and atomically.
#ifndef MODELCAR_TRANSFER_PULL_H_
#define MODELCAR_TRANSFER_PULL_H_

#include <string>

#include "base/status.h"
#include "transfer/copy.h"
#include "transfer/resolve.h"

namespace modelcar {

Result<SendResult> PullToLayout(const std::string& ref, const std::string& layout_spec,
                                const RemoteOptions& options);

}  // namespace modelcar

#endif  // MODELCAR_TRANSFER_PULL_H_
