// Streaming decompression of layer blobs (gzip via zlib, zstd via libzstd) with pushed bytes.
//
// Thread safety: none; one Decompressor per stream.
#ifndef MODELCAR_TAR_READER_DECOMPRESS_H_
#define MODELCAR_TAR_READER_DECOMPRESS_H_

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::tar {

enum class Compression { kNone, kGzip, kZstd };

// Layer media types: OCI `...layer.v1.tar`, `+gzip`, `+zstd` (and nondistributable variants),
// Docker `...rootfs.diff.tar.gzip`. Others: Unimplemented naming the type.
Result<Compression> CompressionForMediaType(std::string_view media_type);

std::string_view CompressionName(Compression c);

// Decompresses pushed bytes and passes the output to `sink` in order. kNone passes bytes through.
// gzip accepts concatenated members; bytes after the last frame are an error.
class Decompressor {
 public:
  using Sink = std::function<Status(std::string_view)>;
  Decompressor(Compression compression, Sink sink);
  ~Decompressor();
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  Status Feed(std::string_view bytes);
  // The input ended: fails with DataLoss if a frame is incomplete.
  Status Finish();

  uint64_t bytes_out() const { return bytes_out_; }

 private:
  Status Emit(const char* p, size_t n);

  Compression compression_;
  Sink sink_;
  void* z_ = nullptr;     // z_stream (gzip)
  void* zstd_ = nullptr;  // ZSTD_DStream
  bool frame_done_ = true;
  bool any_input_ = false;
  uint64_t bytes_out_ = 0;
  std::string out_;
};

}  // namespace modelcar::tar

#endif  // MODELCAR_TAR_READER_DECOMPRESS_H_
