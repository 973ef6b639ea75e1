#include "oci/descriptor.h"

#include <sys/utsname.h>

#include <string_view>

namespace modelcar::oci {

Platform HostPlatform() {
  Platform p;
  p.os = "linux";
  struct utsname u;
  std::string_view machine = ::uname(&u) == 0 ? u.machine : "x86_64";
  if (machine == "x86_64") {
    p.architecture = "amd64";
  } else if (machine == "aarch64" || machine == "arm64") {
    p.architecture = "arm64";
    p.variant = "v8";
  } else if (machine == "ppc64le") {
    p.architecture = "ppc64le";
  } else if (machine == "s390x") {
    p.architecture = "s390x";
  } else if (machine == "riscv64") {
    p.architecture = "riscv64";
  } else {
    p.architecture = std::string(machine);
  }
  return p;
}

}  // namespace modelcar::oci
