// Streaming tar parser (POSIX ustar, pax and GNU long names) driven by pushed bytes.
//
// The reader is a state machine: Feed() takes any slice of the archive (a network chunk, a
// decompressor's output) and calls the handler for every entry. It never buffers file data: the
// handler's Data() receives views into the fed slice. Every byte that is not file data (header
// blocks, pax records, padding, the end-of-archive blocks and anything after them) is passed to
// Meta() in stream order, so a handler can keep a "skeleton" of the archive and rebuild the exact
// stream later from the skeleton plus the extracted files (see `data_in_stream` below).
//
// Checks: header checksums, numeric fields, pax record syntax and sizes, long-name sizes, and
// that the archive does not end inside an entry (Finish). Unknown or unsupported entry types
// (GNU sparse, multi-volume) are refused, naming the entry.
//
// Thread safety: none; one reader per stream.
#ifndef MODELCAR_TAR_READER_H_
#define MODELCAR_TAR_READER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace modelcar::tar {

enum class EntryType {
  kRegular,
  kHardLink,
  kSymlink,
  kCharDevice,
  kBlockDevice,
  kDirectory,
  kFifo
};

struct Entry {
  std::string path;         // as written in the archive (pax "path", GNU long name or prefix/name)
  std::string link_target;  // hard link or symlink target
  EntryType type = EntryType::kRegular;
  uint64_t size = 0;  // bytes of data that follow (regular files; 0 for other types)
  uint32_t mode = 0;  // permission bits as stored (including setuid/setgid/sticky)
  int64_t mtime = 0;
  uint64_t offset = 0;  // stream offset of the entry's first header block (pax included)
};

// Receives the parsed archive. A non-OK Status from any callback stops the reader; Feed() returns
// it unchanged.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual Status BeginEntry(const Entry& entry) = 0;
  // File data of the current entry, in order; the pieces add up to entry.size. The view is valid
  // only during the call.
  virtual Status Data(std::string_view bytes) = 0;
  virtual Status EndEntry() = 0;
  // Every non-data byte, in stream order. The view is valid only during the call.
  virtual Status Meta(std::string_view /*bytes*/) { return Status(); }
};

struct ReaderOptions {
  // False for a skeleton (an archive with the file data left out): after BeginEntry of a regular
  // file the reader expects the padding at once, and calls EndEntry without Data.
  bool data_in_stream = true;
  uint64_t max_pax_bytes = 1 << 20;       // one pax extended header
  uint64_t max_name_bytes = 64 << 10;     // GNU long name or link name
  uint64_t max_trailing_bytes = 1 << 20;  // bytes after the end-of-archive marker
};

class Reader {
 public:
  // `handler` is not owned and must outlive the reader.
  explicit Reader(Handler* handler, ReaderOptions options = {});

  // Parses the next slice of the archive.
  Status Feed(std::string_view bytes);
  // The stream ended. Fails with DataLoss if it ended inside a header, an extended header or an
  // entry's data. A missing end-of-archive marker, and missing padding after the last entry's
  // data (umoci writes layers like that), are accepted.
  Status Finish();

  uint64_t offset() const { return offset_; }  // bytes consumed so far
  bool ended() const { return state_ == State::kTrailing; }

 private:
  enum class State { kHeader, kExtension, kData, kPadding, kTrailing };
  Status OnHeaderBlock();
  Status OnZeroBlock();  // an all-zero header block: the end marker's half, or an error
  // A pax ('x', 'g') or GNU long name ('L', 'K') header of `size` bytes at `block_offset`.
  Status BeginExtension(char type, uint64_t size, uint64_t block_offset);
  Status OnExtensionDone();
  Status StartData();
  Status EmitMeta(std::string_view bytes);

  Handler* handler_;
  ReaderOptions options_;
  State state_ = State::kHeader;
  uint64_t offset_ = 0;
  std::string block_;       // partial header block
  std::string ext_;         // pax / long-name payload being collected
  char ext_type_ = 0;       // 'x', 'g', 'L' or 'K'
  uint64_t remaining_ = 0;  // data, extension or padding bytes left
  uint64_t pad_after_ext_ = 0;
  int zero_blocks_ = 0;
  uint64_t trailing_ = 0;
  Entry entry_;
  // Overrides collected from pax / GNU headers for the next entry.
  std::string next_path_, next_link_;
  bool has_next_path_ = false, has_next_link_ = false, has_next_size_ = false;
  uint64_t next_size_ = 0;
  uint64_t next_offset_ = 0;
};

// Returns "regular file", "directory", ... for messages.
std::string_view EntryTypeName(EntryType type);

// An entry name (untrusted bytes) quoted for messages: its first 200 bytes, with control
// characters and bytes that are not UTF-8 written as \xHH, so an error never carries raw bytes.
std::string QuoteEntryName(std::string_view name);

}  // namespace modelcar::tar

#endif  // MODELCAR_TAR_READER_H_
