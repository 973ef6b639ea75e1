#include "base/human_bytes.h"

#include <cstdio>

namespace modelcar {

std::string HumanBytes(double bytes, ByteUnits units) {
  static const char* const kIec[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  static const char* const kSi[] = {"B", "KB", "MB", "GB", "TB"};
  const char* const* names = units == ByteUnits::kIec ? kIec : kSi;
  const double step = units == ByteUnits::kIec ? 1024 : 1000;
  int u = 0;
  while (bytes >= step && u < 4) {
    bytes /= step;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, names[u]);
  return buf;
}

}  // namespace modelcar
