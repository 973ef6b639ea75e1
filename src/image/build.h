// `modelcar build`: turns a model directory into a reproducible modelcar image.
//
// Layers: [base layers] + [small files and directories] + [one uncompressed tar per file of at
// least small_file_threshold bytes, annotated org.opencontainers.image.title = its path]. Files
// land under models_path ("/models"; "/" puts the tree at the image root, e.g. for a runtime
// image), owned by uid:gid with normalized modes. Every timestamp is `created` (default 0). The
// result depends only on file contents, relative paths and options: not on mtimes, owners, readdir
// order, umask or the machine (for the same busybox binary).
//
// Each byte of the model is read once; it is hashed (OpenSSL SHA-256) while it is written to the
// sink. Layers are written by `jobs` threads at once.
#ifndef MODELCAR_IMAGE_BUILD_H_
#define MODELCAR_IMAGE_BUILD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "oci/blob_sink.h"
#include "oci/descriptor.h"

namespace modelcar {

struct BuildOptions {
  std::string model_dir;
  std::string tag = "latest";           // given to ImageSink::PutManifest
  std::string models_path = "/models";  // absolute path inside the image; "/": the image root
  // "busybox" (default), "none", "layout:DIR[:TAG]", or "source" (use base_source below).
  std::string base = "busybox";
  std::string busybox_path = "/bin/busybox";
  // For base == "source": any ImageSource (e.g. a registry, provided by the caller) and the tag or
  // digest to resolve in it. Not owned; must outlive BuildImage.
  oci::ImageSource* base_source = nullptr;
  std::string base_ref;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t file_mode = 0444;
  uint32_t dir_mode = 0555;
  // Mode of the files the owner may execute in the source (ScannedFile::executable); 0: file_mode
  // for them too (the default: a model's modes never depend on the source's bits).
  uint32_t exec_file_mode = 0;
  // Runtime defaults written into the image config, over the base's. Entrypoint set: the base's
  // Cmd is dropped unless `cmd` is set too (as docker does). `env` entries "K=V" replace the
  // base's "K=..." entries or are appended.
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> env;
  int64_t created = 0;  // seconds since the epoch, for every timestamp
  uint64_t small_file_threshold = 1 << 20;
  bool allow_outside_symlinks = false;
  int jobs = 2;
  oci::Platform platform = oci::HostPlatform();  // for --base none / busybox; chooses in an index
};

struct BuildResult {
  oci::Descriptor manifest;  // media type, digest, size
  oci::Descriptor config;
  std::vector<oci::Descriptor> layers;
  uint64_t model_bytes = 0;  // sum of the model's file sizes
  size_t model_files = 0;
};

// Progress reports from the build (called from worker threads; implementations must be
// thread-safe). Lines are human text without a trailing newline.
class BuildProgress {
 public:
  virtual ~BuildProgress() = default;
  virtual void Line(std::string_view /*line*/) {}
  // Called with the model's total bytes before any layer is written.
  virtual void Total(uint64_t /*bytes*/) {}
  // `n` more model bytes were written.
  virtual void Advance(uint64_t /*n*/) {}
};

// Builds the image into `sink` (PutManifest with options.tag; does not call sink.Finish()).
Result<BuildResult> BuildImage(const BuildOptions& options, oci::ImageSink& sink,
                               BuildProgress* progress = nullptr);

// Builds into the OCI layout `dir` (created or updated; see oci/layout.h) and finishes it.
Result<BuildResult> BuildToLayout(const BuildOptions& options, const std::string& dir,
                                  BuildProgress* progress = nullptr);

// Flag parsers (errors name the flag value).
// "UID:GID" (numbers), e.g. "1001:0".
Status ParseOwner(std::string_view s, uint32_t* uid, uint32_t* gid);
// chmod-like modes for files and directories: octal ("0640": dirs get x where r is set) or
// symbolic clauses "[ugoa]*(=|+|-)[rwxX]*" separated by ',' applied to 0 (X: x on dirs only),
// e.g. "a=rX" -> 0444 / 0555, "u=rwX,go=rX" -> 0644 / 0755.
Status ParseMode(std::string_view s, uint32_t* file_mode, uint32_t* dir_mode);
// Seconds since the epoch ("1700000000") or RFC 3339 UTC ("2024-01-02T03:04:05Z").
Result<int64_t> ParseCreated(std::string_view s);
// A JSON array of strings (Dockerfile exec form: '["/usr/bin/modelcar", "serve"]') for --entrypoint
// and --cmd; errors name `flag`.
Result<std::vector<std::string>> ParseExecForm(std::string_view flag, std::string_view json);
// "KEY=VALUE" with a non-empty KEY without '=', for --env.
Status CheckEnvEntry(std::string_view entry);
// RFC 3339 UTC for `seconds` ("1970-01-01T00:00:00Z").
std::string FormatRfc3339(int64_t seconds);

}  // namespace modelcar

#endif  // MODELCAR_IMAGE_BUILD_H_
