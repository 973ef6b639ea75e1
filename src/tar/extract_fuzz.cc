// Fuzz target: safe extraction of tar layers (what the node store does with every pulled layer).
// The input is one or more layers separated by a marker line (fuzz_check.h), extracted in order
// into a fresh directory with a shadow directory, as the node store does. Properties: nothing
// appears outside the root and the shadow directory (a sibling directory stays empty), and when
// every layer extracts cleanly each one is rebuilt byte for byte from its skeleton, the tree and
// what later layers moved to the shadow directory (what `store verify` relies on).
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
  std::string shadow = base + "/shadow";
  auto ex = Extractor::Open(root);
  FUZZ_CHECK(ex.ok());
  (*ex)->set_shadow_dir(shadow);
  std::vector<std::string> skeletons;
  (*ex)->set_meta_sink([&](std::string_view b) {
    skeletons.back().append(b);
    return Status();
  });
  Status s;
  for (size_t i = 0; i < layers.size(); ++i) {
    skeletons.emplace_back();
    (*ex)->BeginLayer(i);
    Reader reader(ex->get());
    s = reader.Feed(layers[i]);
    if (s.ok()) s = reader.Finish();
    if (!s.ok()) break;
  }
  if (s.ok()) s = (*ex)->Finish();
  ex->reset();

  for (size_t i = 0; s.ok() && i < layers.size(); ++i) {
    std::string rebuilt;
    Status r = RebuildStream(skeletons[i], LayerDataDirs(root, shadow, i, layers.size()),
                             [&](std::string_view b) {
                               rebuilt.append(b);
                               return Status();
                             });
    FUZZ_CHECK(r.ok());
    FUZZ_CHECK(rebuilt == layers[i]);
  }

  auto base_fd = OpenFile(base, O_RDONLY | O_DIRECTORY);
  FUZZ_CHECK(base_fd.ok());
  FUZZ_CHECK(RemoveTreeAt(base_fd->get(), "root").ok());
  FUZZ_CHECK(RemoveTreeAt(base_fd->get(), "shadow").ok());
  FUZZ_CHECK(std::filesystem::is_empty(base + "/outside"));
  return 0;
}
