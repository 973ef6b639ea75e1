// HumanBytes: a byte count (or a rate's bytes) for people: "512 B", "1.5 KiB" / "1.5 KB".
#ifndef MODELCAR_BASE_HUMAN_BYTES_H_
#define MODELCAR_BASE_HUMAN_BYTES_H_

#include <string>

namespace modelcar {

enum class ByteUnits {
  kIec,  // steps of 1024: B, KiB, MiB, GiB, TiB (sizes on disk, as df -h)
  kSi,   // steps of 1000: B, KB, MB, GB, TB (transfers and rates, as registry tools print them)
};

// Whole bytes below the first step ("512 B"), one decimal above it ("1.5 MiB"); TiB / TB at most.
std::string HumanBytes(double bytes, ByteUnits units);

}  // namespace modelcar

#endif  // MODELCAR_BASE_HUMAN_BYTES_H_
