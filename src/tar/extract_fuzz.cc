// Fuzz target: safe extraction of tar layers (what the node store does with every pulled layer).
// The input is one or more layers separated by a marker line (fuzz_check.h), extracted in order
// into a fresh directory. Properties: nothing appears outside the root (a sibling directory stays
// empty), and a single layer that extracts cleanly is rebuilt byte for byte from its skeleton and
// the tree (what `store verify` relies on).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "tar/extract.h"
#include "tar/extract_rebuild.h"
#include "tar/reader.h"

using namespace modelcar;
using namespace modelcar::tar;

namespace {

// A private directory for this process: <base>/root is the tree, <base>/outside must stay empty.
// The string is never destroyed: the exit handler registered while it is built runs after
// its destructor would.
const std::string& Base() {
  static const std::string& base = *new std::string([] {
    char tmpl[] = "/tmp/modelcar-extract-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(tmpl) != nullptr);
    std::string b = tmpl;
    FUZZ_CHECK(mkdir((b + "/outside").c_str(), 0755) == 0);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Base(), ec);
    });
    return b;
  }());
  return base;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  std::vector<std::string_view> layers;
  while (!in.rest().empty() && layers.size() < 4) layers.push_back(in.Part());
  if (layers.empty()) return 0;

  const std::string& base = Base();
  std::string root = base + "/root";
  FUZZ_CHECK(mkdir(root.c_str(), 0755) == 0);
  auto ex = Extractor::Open(root);
  FUZZ_CHECK(ex.ok());
  std::string skeleton;
  (*ex)->set_meta_sink([&](std::string_view b) {
    skeleton.append(b);
    return Status();
  });
  Status s;
  for (std::string_view layer : layers) {
    skeleton.clear();
    (*ex)->BeginLayer();
    Reader reader(ex->get());
    s = reader.Feed(layer);
    if (s.ok()) s = reader.Finish();
    if (!s.ok()) break;
  }
  if (s.ok()) s = (*ex)->Finish();
  ex->reset();

  if (s.ok() && layers.size() == 1) {
    std::string rebuilt;
    Status r = RebuildStream(skeleton, root, [&](std::string_view b) {
      rebuilt.append(b);
      return Status();
    });
    FUZZ_CHECK(r.ok());
    FUZZ_CHECK(rebuilt == layers[0]);
  }

  auto base_fd = OpenFile(base, O_RDONLY | O_DIRECTORY);
  FUZZ_CHECK(base_fd.ok());
  FUZZ_CHECK(RemoveTreeAt(base_fd->get(), "root").ok());
  FUZZ_CHECK(std::filesystem::is_empty(base + "/outside"));
  return 0;
}
