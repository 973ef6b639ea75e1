#include "image/busybox_layer.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "base/file.h"

namespace modelcar {

const std::vector<std::string>& BusyboxApplets() {
  static const std::vector<std::string> kApplets = {
      "[",       "[[",    "awk",  "basename",  "cat",   "chmod", "cp",   "cut",      "date",
      "dirname", "du",    "echo", "env",       "false", "find",  "grep", "head",     "id",
      "kill",    "ln",    "ls",   "mkdir",     "mv",    "ps",    "pwd",  "readlink", "realpath",
      "rm",      "sed",   "sh",   "sha256sum", "sleep", "sort",  "stat", "tail",     "tee",
      "test",    "touch", "tr",   "true",      "uname", "wc",    "wget", "xargs"};
  return kApplets;
}

Status WriteBusyboxLayer(const std::string& busybox_path, int64_t mtime, tar::Writer& out) {
  auto content = ReadFile(busybox_path, 64 << 20);
  if (!content.ok()) {
    return content.status().WithContext(
        "busybox base layer (install Debian's busybox-static, "
        "or pass --base none)");
  }
  using tar::WriteType;
  RETURN_IF_ERROR(out.Add({"bin", WriteType::kDirectory, 0, 0755, 0, 0, mtime, ""}));
  RETURN_IF_ERROR(out.Add(
      {"bin/busybox", WriteType::kRegular, content->size(), 0755, 0, 0, mtime, ""}, *content));
  for (const std::string& applet : BusyboxApplets()) {
    RETURN_IF_ERROR(
        out.Add({"bin/" + applet, WriteType::kSymlink, 0, 0777, 0, 0, mtime, "busybox"}));
  }
  RETURN_IF_ERROR(out.Add({"tmp", WriteType::kDirectory, 0, 01777, 0, 0, mtime, ""}));
  return out.Finish();
}

}  // namespace modelcar
