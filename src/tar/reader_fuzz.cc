// Fuzz target: the streaming tar reader (layer blobs from registries), behind the gzip/zstd
// decompressor. The first input byte picks the compression, the skeleton mode and how the stream
// is cut into slices. Properties: data pieces add up to each entry's size, every byte fed is
// either data or passed to Meta, and the events do not depend on how the stream was cut.
#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "tar/reader.h"
#include "tar/reader_decompress.h"

using namespace modelcar;
using namespace modelcar::tar;

namespace {

class Recorder : public Handler {
 public:
  Status BeginEntry(const Entry& e) override {
    FUZZ_CHECK(!in_entry_);
    in_entry_ = true;
    left_ = e.size;
    kind_ = 'B';
    log += fmt::format("\nB{}|{}|{}|{}|{}", e.path, e.link_target, static_cast<int>(e.type), e.size,
                       e.offset);
    return Status();
  }
  Status Data(std::string_view b) override {
    FUZZ_CHECK(in_entry_);
    FUZZ_CHECK(b.size() <= left_);
    left_ -= b.size();
    bytes += b.size();
    Add('D', b);
    return Status();
  }
  Status EndEntry() override {
    FUZZ_CHECK(in_entry_);
    FUZZ_CHECK(left_ == 0 || !data_in_stream);
    in_entry_ = false;
    kind_ = 'E';
    log += "\nE";
    return Status();
  }
  Status Meta(std::string_view b) override {
    bytes += b.size();
    Add('M', b);
    return Status();
  }
  bool data_in_stream = true;
  std::string log;
  uint64_t bytes = 0;

 private:
  // Consecutive data (or meta) pieces are logged as one, so the log does not depend on slicing.
  void Add(char kind, std::string_view b) {
    if (b.empty()) return;
    if (kind_ != kind) log += std::string("\n") + kind;
    kind_ = kind;
    log.append(b);
  }
  char kind_ = 0;
  bool in_entry_ = false;
  uint64_t left_ = 0;
};

// Runs the whole stream through a decompressor and a reader, cut into slices of `step` bytes
// (0: one slice). Returns the event log with the final status appended.
std::string Run(std::string_view in, Compression c, bool data_in_stream, size_t step,
                uint64_t* out_bytes) {
  Recorder rec;
  rec.data_in_stream = data_in_stream;
  ReaderOptions opts;
  opts.data_in_stream = data_in_stream;
  opts.max_pax_bytes = 64 << 10;
  Reader reader(&rec, opts);
  Decompressor dec(c, [&](std::string_view b) { return reader.Feed(b); });
  Status s;
  for (size_t i = 0; i < in.size() && s.ok(); i += step ? step : in.size()) {
    s = dec.Feed(in.substr(i, step ? step : in.size()));
  }
  if (s.ok()) s = dec.Finish();
  if (s.ok()) s = reader.Finish();
  *out_bytes = rec.bytes;
  return rec.log + (s.ok() ? "\nOK" : "\nERR " + s.message());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  uint8_t sel = in.Byte();
  Compression c = sel % 3 == 0   ? Compression::kNone
                  : sel % 3 == 1 ? Compression::kGzip
                                 : Compression::kZstd;
  bool data_in_stream = (sel & 0x80) == 0;
  size_t step = 1 + ((sel >> 2) & 0x1f) * 37;
  uint64_t bytes_whole = 0, bytes_cut = 0;
  std::string whole = Run(in.rest(), c, data_in_stream, 0, &bytes_whole);
  std::string cut = Run(in.rest(), c, data_in_stream, step, &bytes_cut);
  if (c == Compression::kNone && whole.ends_with("\nOK")) {
    FUZZ_CHECK(bytes_whole == in.rest().size());  // every byte was data or meta
  }
  // How the stream was sliced changes nothing: the same events, or a failure both ways.
  FUZZ_CHECK(whole.ends_with("\nOK") == cut.ends_with("\nOK"));
  if (whole.ends_with("\nOK")) FUZZ_CHECK(whole == cut);
  return 0;
}
