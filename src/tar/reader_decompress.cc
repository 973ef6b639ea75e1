#include "tar/reader_decompress.h"

#include <zlib.h>
#include <zstd.h>

namespace modelcar::tar {
namespace {
constexpr size_t kOutChunk = 256 << 10;
}

Result<Compression> CompressionForMediaType(std::string_view t) {
  if (t.ends_with("+gzip") || t.ends_with(".tar.gzip")) return Compression::kGzip;
  if (t.ends_with("+zstd") || t.ends_with(".tar.zstd")) return Compression::kZstd;
  if (t.ends_with("layer.v1.tar") || t.ends_with("rootfs.diff.tar")) return Compression::kNone;
  return Unimplemented("layer media type " + std::string(t) + " is not a tar layer modelcar reads");
}

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "uncompressed";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "?";
}

Decompressor::Decompressor(Compression compression, Sink sink)
    : compression_(compression), sink_(std::move(sink)) {
  if (compression_ == Compression::kGzip) {
    auto* zs = new z_stream{};
    inflateInit2(zs, 16 + MAX_WBITS);
    z_ = zs;
    out_.resize(kOutChunk);
  } else if (compression_ == Compression::kZstd) {
    zstd_ = ZSTD_createDStream();
    ZSTD_initDStream(static_cast<ZSTD_DStream*>(zstd_));
    out_.resize(ZSTD_DStreamOutSize());
  }
}

Decompressor::~Decompressor() {
  if (z_) {
    inflateEnd(static_cast<z_stream*>(z_));
    delete static_cast<z_stream*>(z_);
  }
  if (zstd_) ZSTD_freeDStream(static_cast<ZSTD_DStream*>(zstd_));
}

Status Decompressor::Emit(const char* p, size_t n) {
  if (n == 0) return Status();
  bytes_out_ += n;
  return sink_(std::string_view(p, n));
}

Status Decompressor::Feed(std::string_view in) {
  if (in.empty()) return Status();
  any_input_ = true;
  if (compression_ == Compression::kNone) return Emit(in.data(), in.size());
  if (compression_ == Compression::kGzip) {
    auto* zs = static_cast<z_stream*>(z_);
    zs->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs->avail_in = static_cast<uInt>(in.size());
    for (;;) {
      if (frame_done_) {  // start of the stream or of the next gzip member
        inflateReset(zs);
        frame_done_ = false;
      }
      zs->next_out = reinterpret_cast<Bytef*>(out_.data());
      zs->avail_out = static_cast<uInt>(out_.size());
      int rc = inflate(zs, Z_NO_FLUSH);
      RETURN_IF_ERROR(Emit(out_.data(), out_.size() - zs->avail_out));
      if (rc == Z_STREAM_END) {
        frame_done_ = true;
        if (zs->avail_in == 0) break;
        continue;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return DataLoss(std::string("gzip: corrupt layer data: ") + (zs->msg ? zs->msg : "error"));
      }
      if (zs->avail_in == 0 && zs->avail_out != 0) break;
      if (rc == Z_BUF_ERROR && zs->avail_out != 0)
        return DataLoss("gzip: decoder made no progress");
    }
    return Status();
  }
  auto* ds = static_cast<ZSTD_DStream*>(zstd_);
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  bool full = false;
  do {
    ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
    size_t before = ib.pos;
    size_t rc = ZSTD_decompressStream(ds, &ob, &ib);
    if (ZSTD_isError(rc)) return DataLoss(std::string("zstd: ") + ZSTD_getErrorName(rc));
    RETURN_IF_ERROR(Emit(out_.data(), ob.pos));
    if (ib.pos != before || ob.pos != 0) frame_done_ = (rc == 0);
    full = ob.pos == ob.size;
  } while (ib.pos < ib.size || full);
  return Status();
}

Status Decompressor::Finish() {
  if (compression_ == Compression::kNone) return Status();
  if (!any_input_) return DataLoss(std::string(CompressionName(compression_)) + ": empty stream");
  if (compression_ == Compression::kGzip) {
    // Flush anything pending (inflate may hold output when avail_out ran out).
    auto* zs = static_cast<z_stream*>(z_);
    while (!frame_done_) {
      zs->next_out = reinterpret_cast<Bytef*>(out_.data());
      zs->avail_out = static_cast<uInt>(out_.size());
      int rc = inflate(zs, Z_FINISH);
      RETURN_IF_ERROR(Emit(out_.data(), out_.size() - zs->avail_out));
      if (rc == Z_STREAM_END) {
        frame_done_ = true;
        break;
      }
      if (zs->avail_out != 0) return DataLoss("gzip: layer data ends inside a compressed stream");
    }
    return Status();
  }
  if (!frame_done_) return DataLoss("zstd: layer data ends inside a compressed frame");
  return Status();
}

}  // namespace modelcar::tar
