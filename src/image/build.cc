#include "image/build.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <thread>

#include "base/crashpoint.h"
#include "base/direct_io.h"
#include "base/file.h"
#include "base/human_bytes.h"
#include "image/busybox_layer.h"
#include "image/layer_plan.h"
#include "image/model_labels.h"
#include "image/model_scan.h"
#include "oci/layout.h"
#include "oci/manifest.h"
#include "oci/media_types.h"
#include "tar/writer.h"

namespace modelcar {

namespace {

constexpr size_t kReadChunk = 8 << 20;  // file reads
constexpr size_t kCoalesce = 1 << 20;   // small writes are gathered up to this size

std::string Size(uint64_t n) { return HumanBytes(static_cast<double>(n), ByteUnits::kIec); }

// Gathers small writes (tar headers, small files) into large BlobWriter writes.
class CoalescingOutput {
 public:
  explicit CoalescingOutput(oci::BlobWriter* w) : w_(w) { buf_.reserve(kCoalesce); }
  Status Write(std::string_view b) {
    if (buf_.size() + b.size() <= kCoalesce) {
      buf_.append(b);
      return Status();
    }
    RETURN_IF_ERROR(Flush());
    if (b.size() >= kCoalesce) return w_->Write(b);
    buf_.append(b);
    return Status();
  }
  Status Flush() {
    if (buf_.empty()) return Status();
    Status st = w_->Write(buf_);
    buf_.clear();
    return st;
  }

 private:
  oci::BlobWriter* w_;
  std::string buf_;
};

// "/models/" -> "models", "/" -> "" (the image root); checks the path is absolute and clean.
Result<std::string> NormalizeModelsPath(std::string_view p) {
  if (p.empty() || p.front() != '/') {
    return InvalidArgument("--models-path \"" + std::string(p) + "\" must be an absolute path");
  }
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  p.remove_prefix(1);
  if (p.empty()) return std::string();
  for (size_t pos = 0;;) {
    size_t next = p.find('/', pos);
    std::string_view c = p.substr(pos, next == std::string_view::npos ? p.npos : next - pos);
    if (c.empty() || c == "." || c == "..") {
      return InvalidArgument("--models-path \"/" + std::string(p) +
                             "\" must not contain empty, '.' or '..' components");
    }
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return std::string(p);
}

struct Job {
  const PlannedLayer* plan = nullptr;  // nullptr: the busybox base layer
  uint64_t bytes = 0;
  size_t index = 0;  // position among the new layers
  oci::Descriptor result;
};

class Builder {
 public:
  Builder(const BuildOptions& o, std::string prefix, oci::ImageSink& sink, BuildProgress* p)
      : o_(o), prefix_(std::move(prefix)), sink_(sink), progress_(p) {}

  Status RunJobs(std::vector<Job>& jobs) {
    std::vector<Job*> order;
    for (Job& j : jobs) order.push_back(&j);
    // Largest first, so two workers finish close together.
    std::stable_sort(order.begin(), order.end(),
                     [](const Job* a, const Job* b) { return a->bytes > b->bytes; });
    std::atomic<size_t> next{0};
    std::mutex mu;
    Status first_error;
    auto worker = [&] {
      bool yielding = false;
      for (;;) {
        size_t i = next.fetch_add(1);
        if (i >= order.size() || cancel_.load()) return;
        if (i > 0 && !yielding) {
          // The largest layer's SHA-256 is one sequential stream and sets the build's length:
          // the threads doing the other layers (and the helpers they start) yield to it.
          ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()),
                        ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())) + 5);
          yielding = true;
        }
        Status st = RunJob(*order[i], jobs.size());
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok()) first_error = st;
          cancel_.store(true);
        }
      }
    };
    size_t n = std::clamp<size_t>(static_cast<size_t>(std::max(o_.jobs, 1)), 1, order.size());
    // Workers are new threads (never the caller), since a worker may lower its own priority.
    std::vector<std::thread> threads;
    for (size_t t = 0; t < n; ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    return first_error;
  }

 private:
  Status RunJob(Job& job, size_t total) {
    std::string what = job.plan == nullptr ? "busybox base"
                       : job.plan->title.empty()
                           ? fmt::format("{} small files", job.plan->files.size())
                           : job.plan->title;
    Line(fmt::format("layer {}/{}: {} ({})", job.index + 1, total, what, Size(job.bytes)));
    ASSIGN_OR_RETURN(auto writer, sink_.NewBlobWriter());
    CoalescingOutput out(writer.get());
    tar::Writer tw([&out](std::string_view b) { return out.Write(b); });
    if (job.plan == nullptr) {
      RETURN_IF_ERROR(WriteBusyboxLayer(o_.busybox_path, o_.created, tw));
    } else {
      RETURN_IF_ERROR(WriteModelLayer(*job.plan, tw));
    }
    RETURN_IF_ERROR(out.Flush());
    uint64_t size = writer->size();
    ASSIGN_OR_RETURN(oci::Digest digest, writer->Commit());
    CrashPoint("build.layer-committed");
    job.result.media_type = std::string(oci::kOciLayerTar);
    job.result.digest = digest;
    job.result.size = static_cast<int64_t>(size);
    if (job.plan != nullptr && !job.plan->title.empty()) {
      job.result.annotations[std::string(oci::kAnnotationTitle)] = job.plan->title;
    }
    Line(fmt::format("layer {}/{}: {} -> {}", job.index + 1, total, what, digest.ToString()));
    return Status();
  }

  Status WriteModelLayer(const PlannedLayer& layer, tar::Writer& tw) {
    using tar::WriteType;
    // Parents of the models path (e.g. "opt" for /opt/models) belong to root.
    for (size_t pos = prefix_.find('/'); pos != std::string::npos;
         pos = prefix_.find('/', pos + 1)) {
      RETURN_IF_ERROR(
          tw.Add({prefix_.substr(0, pos), WriteType::kDirectory, 0, 0755, 0, 0, o_.created, ""}));
    }
    for (const std::string& d : layer.dirs) {
      if (d.empty() && prefix_.empty()) continue;  // the image root is not an entry
      RETURN_IF_ERROR(tw.Add(
          {InImage(d), WriteType::kDirectory, 0, o_.dir_mode, o_.uid, o_.gid, o_.created, ""}));
    }
    // Two buffers: the next chunk is read on a helper thread while this one is hashed and
    // written (the BlobWriter may itself hash on another thread). Aligned, so that a layout
    // blob writer can send them to disk with direct I/O.
    AlignedBuffer bufs[2] = {AlignedBuffer(kReadChunk), AlignedBuffer(kReadChunk)};
    for (const ScannedFile& f : layer.files) {
      if (cancel_.load()) return Cancelled("build cancelled");
      auto fd = OpenFile(f.source_path, O_RDONLY);
      if (!fd.ok()) return fd.status().WithContext(f.rel_path);
      ::posix_fadvise(fd->get(), 0, 0, POSIX_FADV_SEQUENTIAL);
      const uint32_t mode =
          f.executable && o_.exec_file_mode != 0 ? o_.exec_file_mode : o_.file_mode;
      RETURN_IF_ERROR(tw.Begin({InImage(f.rel_path), WriteType::kRegular, f.size, mode, o_.uid,
                                o_.gid, o_.created, ""}));
      const int raw_fd = fd->get();
      // Fills `buf` (up to kReadChunk bytes); fewer bytes only at the end of the file.
      auto fill = [raw_fd, &f](char* buf) -> Result<size_t> {
        size_t got = 0;
        while (got < kReadChunk) {
          ssize_t n = ::read(raw_fd, buf + got, kReadChunk - got);
          if (n < 0) {
            if (errno == EINTR) continue;
            return ErrnoStatus(errno, "read " + f.rel_path);
          }
          if (n == 0) break;
          got += static_cast<size_t>(n);
        }
        return got;
      };
      uint64_t left = f.size;
      int cur = 0;
      std::future<Result<size_t>> next = std::async(std::launch::async, fill, bufs[cur].data());
      for (;;) {
        Result<size_t> got = next.get();
        if (!got.ok()) return got.status();
        size_t n = *got;
        if (n == 0) break;
        if (n > left) return FailedPrecondition(f.rel_path + " grew while it was being read");
        left -= n;
        if (n == kReadChunk) next = std::async(std::launch::async, fill, bufs[1 - cur].data());
        Status st = tw.Data(std::string_view(bufs[cur].data(), n));
        if (progress_) progress_->Advance(n);
        if (st.ok() && cancel_.load()) st = Cancelled("build cancelled");
        if (!st.ok()) {
          if (next.valid()) next.wait();
          return st;
        }
        if (n < kReadChunk) break;
        cur = 1 - cur;
      }
      if (left != 0) return FailedPrecondition(f.rel_path + " shrank while it was being read");
      RETURN_IF_ERROR(tw.End());
    }
    return tw.Finish();
  }

  void Line(const std::string& s) {
    if (progress_) progress_->Line(s);
  }

  // Path in the image of `rel` (relative to the model dir; "" is the dir itself).
  std::string InImage(const std::string& rel) const {
    if (prefix_.empty() || rel.empty()) return prefix_.empty() ? rel : prefix_;
    return prefix_ + "/" + rel;
  }

  const BuildOptions& o_;
  const std::string prefix_;
  oci::ImageSink& sink_;
  BuildProgress* progress_;
  std::atomic<bool> cancel_{false};
};

// The base image: its layers (already copied into the sink) and config.
struct Base {
  std::vector<oci::Descriptor> layers;
  oci::ImageConfig config;
  bool busybox = false;
};

std::string OciLayerType(const std::string& t) {
  if (t == oci::kDockerLayerTar) return std::string(oci::kOciLayerTar);
  if (t == oci::kDockerLayerTarGzip) return std::string(oci::kOciLayerTarGzip);
  return t;
}

Result<Base> LoadBase(const BuildOptions& o, oci::ImageSink& sink, BuildProgress* progress) {
  Base base;
  base.config.architecture = o.platform.architecture;
  base.config.os = o.platform.os;
  base.config.variant = o.platform.variant;
  if (o.base == "none") return base;
  if (o.base == "busybox") {
    base.busybox = true;
    base.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    base.config.cmd = std::vector<std::string>{"sh"};
    return base;
  }
  std::unique_ptr<oci::LayoutSource> layout;
  oci::ImageSource* source = o.base_source;
  std::string ref = o.base_ref;
  if (o.base.starts_with("layout:")) {
    ASSIGN_OR_RETURN(oci::LayoutSpec spec, oci::ParseLayoutSpec(o.base.substr(7)));
    auto opened = oci::LayoutSource::Open(spec.dir);
    if (!opened.ok()) return opened.status().WithContext("--base " + o.base);
    layout = std::move(*opened);
    source = layout.get();
    ref = spec.tag;
  } else if (o.base != "source" || source == nullptr) {
    return InvalidArgument("--base \"" + o.base + "\" must be busybox, none or layout:DIR[:TAG]");
  }
  auto resolved = oci::ResolveImage(*source, ref, o.platform);
  if (!resolved.ok()) return resolved.status().WithContext("--base " + o.base);
  ASSIGN_OR_RETURN(oci::Manifest m,
                   oci::ParseManifest(resolved->manifest.bytes, resolved->manifest.media_type));
  auto config_bytes = oci::ReadBlobVerified(*source, m.config);
  if (!config_bytes.ok()) return config_bytes.status().WithContext("--base " + o.base + " config");
  auto config = oci::ParseImageConfig(*config_bytes);
  if (!config.ok()) return config.status().WithContext("--base " + o.base);
  base.config = std::move(*config);
  if (base.config.diff_ids.size() != m.layers.size()) {
    return InvalidArgument(
        fmt::format("--base {}: config lists {} diff_ids but the manifest has {} layers", o.base,
                    base.config.diff_ids.size(), m.layers.size()));
  }
  for (const oci::Descriptor& l : m.layers) {
    if (progress) {
      progress->Line("base layer " + l.digest.ToString() + " (" + Size(l.size) + ")");
    }
    Status st = oci::CopyBlob(*source, sink, l);
    if (!st.ok()) return st.WithContext("--base " + o.base);
    oci::Descriptor d = l;
    d.media_type = OciLayerType(d.media_type);
    base.layers.push_back(std::move(d));
  }
  return base;
}

// BuildOptions' entrypoint, cmd and env over the base's config.
void ApplyRuntimeDefaults(const BuildOptions& o, oci::ImageConfig* config) {
  if (o.entrypoint) {
    config->entrypoint = o.entrypoint;
    config->cmd.reset();
  }
  if (o.cmd) config->cmd = o.cmd;
  for (const std::string& e : o.env) {
    const std::string key = e.substr(0, e.find('=') + 1);
    auto it = std::find_if(config->env.begin(), config->env.end(),
                           [&](const std::string& x) { return x.starts_with(key); });
    if (it != config->env.end()) {
      *it = e;
    } else {
      config->env.push_back(e);
    }
  }
}

Result<oci::Descriptor> PutBlob(oci::ImageSink& sink, std::string_view bytes,
                                std::string_view media_type) {
  ASSIGN_OR_RETURN(auto w, sink.NewBlobWriter());
  RETURN_IF_ERROR(w->Write(bytes));
  oci::Descriptor d;
  ASSIGN_OR_RETURN(d.digest, w->Commit());
  d.media_type = std::string(media_type);
  d.size = static_cast<int64_t>(bytes.size());
  return d;
}

}  // namespace

Result<BuildResult> BuildImage(const BuildOptions& o, oci::ImageSink& sink,
                               BuildProgress* progress) {
  ASSIGN_OR_RETURN(std::string prefix, NormalizeModelsPath(o.models_path));
  if (o.created < 0) return InvalidArgument("--created must not be before 1970");
  ScanOptions scan_options;
  scan_options.allow_outside_symlinks = o.allow_outside_symlinks;
  ASSIGN_OR_RETURN(ModelScan scan, ScanModelDir(o.model_dir, scan_options));
  std::vector<PlannedLayer> plan = PlanLayers(scan, o.small_file_threshold);

  std::map<std::string, std::string> labels;
  for (const ScannedFile& f : scan.files) {
    if (f.rel_path != "config.json") continue;
    auto text = ReadFile(f.source_path, 16 << 20);
    if (!text.ok()) return text.status().WithContext("config.json");
    std::string warning;
    labels = ModelLabels(*text, &warning);
    if (!warning.empty() && progress) progress->Line("warning: " + warning);
  }

  ASSIGN_OR_RETURN(Base base, LoadBase(o, sink, progress));
  std::vector<Job> jobs;
  if (base.busybox) jobs.push_back({nullptr, 2 << 20, 0, {}});
  for (const PlannedLayer& l : plan) jobs.push_back({&l, l.data_bytes, jobs.size(), {}});
  if (progress) {
    progress->Line(fmt::format("building {} files ({}) from {} into {} layers", scan.files.size(),
                               Size(scan.total_bytes), scan.root, jobs.size()));
    progress->Total(scan.total_bytes);
  }
  Builder builder(o, prefix, sink, progress);
  RETURN_IF_ERROR(builder.RunJobs(jobs));

  // Image config: the base's, plus our layers, labels and history.
  const std::string created = FormatRfc3339(o.created);
  oci::ImageConfig config = std::move(base.config);
  config.created = created;
  for (auto& [k, v] : labels) config.labels[k] = v;
  ApplyRuntimeDefaults(o, &config);
  for (const Job& j : jobs) {
    config.diff_ids.push_back(j.result.digest);  // uncompressed: diff_id == digest
    oci::HistoryEntry h;
    h.created = created;
    h.created_by = j.plan == nullptr ? "modelcar build: busybox base (" + o.busybox_path + ")"
                   : j.plan->title.empty()
                       ? fmt::format("modelcar build: {} small files into {}", j.plan->files.size(),
                                     o.models_path)
                       : "modelcar build: " + j.plan->title + " into " + o.models_path;
    config.history.push_back(std::move(h));
  }
  ASSIGN_OR_RETURN(oci::Descriptor config_desc,
                   PutBlob(sink, oci::SerializeImageConfig(config), oci::kOciConfig));

  oci::Manifest manifest;
  manifest.media_type = std::string(oci::kOciManifest);
  manifest.config = config_desc;
  manifest.layers = base.layers;
  for (const Job& j : jobs) manifest.layers.push_back(j.result);
  std::string bytes = oci::SerializeManifest(manifest);
  RETURN_IF_ERROR(sink.PutManifest(bytes, oci::kOciManifest, o.tag));

  BuildResult result;
  result.manifest.media_type = std::string(oci::kOciManifest);
  result.manifest.digest = oci::Sha256Of(bytes);
  result.manifest.size = static_cast<int64_t>(bytes.size());
  result.config = config_desc;
  result.layers = manifest.layers;
  result.model_bytes = scan.total_bytes;
  result.model_files = scan.files.size();
  return result;
}

Result<BuildResult> BuildToLayout(const BuildOptions& options, const std::string& dir,
                                  BuildProgress* progress) {
  ASSIGN_OR_RETURN(auto sink, oci::LayoutSink::Open(dir));
  ASSIGN_OR_RETURN(BuildResult result, BuildImage(options, *sink, progress));
  CrashPoint("build.before-finish");
  RETURN_IF_ERROR(sink->Finish());
  return result;
}

}  // namespace modelcar
