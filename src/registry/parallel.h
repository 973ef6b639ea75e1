// Runs tasks on a few threads and stops handing out new ones after the first failure.
#ifndef MODELCAR_REGISTRY_PARALLEL_H_
#define MODELCAR_REGISTRY_PARALLEL_H_

#include <cstddef>
#include <functional>

#include "base/status.h"

namespace modelcar::registry {

// Calls task(i) for i in [0, n) on up to `jobs` threads. Returns the first error (tasks already
// running finish; no new ones start), or OK. A Cancelled error is preferred over others so that
// Ctrl-C is reported as such.
Status ParallelFor(size_t n, int jobs, const std::function<Status(size_t)>& task);

}  // namespace modelcar::registry

#endif  // MODELCAR_REGISTRY_PARALLEL_H_
