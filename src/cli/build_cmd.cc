// `modelcar build MODEL_DIR --layout DIR[:TAG]` (or `--push REF`): a reproducible modelcar image
// from a model directory, into an OCI layout or streamed straight to a registry. Progress on
// stderr (transfer/build_display.h: a bar on a TTY, --progress); the manifest digest is the last
// stdout line.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "cli/command.h"
#include "cli/registry_flags.h"
#include "image/build.h"
#include "oci/layout.h"
#include "transfer/build_display.h"
#include "transfer/push.h"

namespace {

using modelcar::Status;

struct Flags {
  std::string model_dir;
  std::string layout;
  std::string push;
  modelcar::RemoteFlags remote;
  std::string models_path = "/models";
  std::string base = "busybox";
  std::string busybox = "/bin/busybox";
  std::string owner = "0:0";
  std::string mode = "a=rX";
  std::string exec_mode;
  std::string entrypoint, cmd;
  std::vector<std::string> env;
  std::string created;
  std::string progress = "auto";
  uint64_t small = 1 << 20;
  bool allow_outside_symlinks = false;
  int jobs = 2;
};

Status Run(const Flags& f) {
  modelcar::BuildOptions o;
  o.model_dir = f.model_dir;
  o.models_path = f.models_path;
  o.base = f.base;
  o.busybox_path = f.busybox;
  o.small_file_threshold = f.small;
  o.allow_outside_symlinks = f.allow_outside_symlinks;
  o.jobs = f.jobs;
  RETURN_IF_ERROR(modelcar::ParseOwner(f.owner, &o.uid, &o.gid));
  RETURN_IF_ERROR(modelcar::ParseMode(f.mode, &o.file_mode, &o.dir_mode));
  if (!f.exec_mode.empty()) {
    uint32_t unused_dir_mode;
    Status st = modelcar::ParseMode(f.exec_mode, &o.exec_file_mode, &unused_dir_mode);
    if (!st.ok()) return st.WithContext("--exec-mode");
  }
  if (!f.entrypoint.empty()) {
    ASSIGN_OR_RETURN(o.entrypoint, modelcar::ParseExecForm("--entrypoint", f.entrypoint));
  }
  if (!f.cmd.empty()) {
    ASSIGN_OR_RETURN(o.cmd, modelcar::ParseExecForm("--cmd", f.cmd));
  }
  for (const std::string& e : f.env) RETURN_IF_ERROR(modelcar::CheckEnvEntry(e));
  o.env = f.env;
  std::string created = f.created;
  if (created.empty()) {
    const char* env = std::getenv("SOURCE_DATE_EPOCH");
    if (env != nullptr && *env != '\0') created = env;
  }
  if (!created.empty()) {
    ASSIGN_OR_RETURN(o.created, modelcar::ParseCreated(created));
  }
  if (f.layout.empty() == f.push.empty()) {
    return modelcar::InvalidArgument("give exactly one of --layout DIR[:TAG] and --push REF");
  }
  ASSIGN_OR_RETURN(modelcar::ProgressMode progress_mode, modelcar::ParseProgressMode(f.progress));
  if (!f.push.empty()) {
    modelcar::RemoteFlags remote = f.remote;
    RETURN_IF_ERROR(remote.Finish());
    modelcar::Result<modelcar::SendResult> sent = [&] {
      modelcar::BuildDisplay progress(progress_mode);
      auto r = modelcar::BuildAndPush(o, f.push, remote.options, &progress);
      progress.Finish(r.ok());
      return r;
    }();
    if (!sent.ok()) return sent.status();
    // Like `push`: the digest-pinned reference is the last stdout line.
    std::printf("%s\n", sent->pinned.c_str());
    return Status();
  }
  ASSIGN_OR_RETURN(modelcar::oci::LayoutSpec spec, modelcar::oci::ParseLayoutSpec(f.layout));
  o.tag = spec.tag;
  std::unique_ptr<modelcar::oci::ImageSource> registry_base;  // --base REF from a registry
  if (f.base != "busybox" && f.base != "none" && !f.base.starts_with("layout:")) {
    modelcar::RemoteFlags remote = f.remote;
    RETURN_IF_ERROR(remote.Finish());
    RETURN_IF_ERROR(modelcar::UseRegistryBase(&o, remote.options, &registry_base));
  }
  modelcar::Result<modelcar::BuildResult> result = [&] {
    modelcar::BuildDisplay progress(progress_mode);
    auto r = modelcar::BuildToLayout(o, spec.dir, &progress);
    progress.Finish(r.ok());
    return r;
  }();
  if (!result.ok()) return result.status();
  std::fprintf(stderr, "built %zu files (%llu bytes) into %s:%s, %zu layers\n", result->model_files,
               static_cast<unsigned long long>(result->model_bytes), spec.dir.c_str(),
               spec.tag.c_str(), result->layers.size());
  std::printf("%s\n", result->manifest.digest.ToString().c_str());
  return Status();
}

const modelcar::cli::CommandRegistration kBuild{
    "build", "Build a reproducible modelcar image from a model directory (--layout or --push)",
    [](CLI::App& app) -> modelcar::cli::Runner {
      auto f = std::make_shared<Flags>();
      app.add_option("model_dir", f->model_dir, "Model directory (config.json, *.safetensors, ...)")
          ->required();
      app.add_option("--layout", f->layout, "Output OCI image layout DIR[:TAG] (TAG: latest)");
      app.add_option("--push", f->push,
                     "Stream the image straight to a registry: [registry/]repo[:tag]");
      f->remote.Add(app, /*transfer=*/false);
      app.add_option("--models-path", f->models_path,
                     "Where the files land in the image (/: the image root)")
          ->capture_default_str();
      app.add_option("--base", f->base,
                     "busybox | none | layout:DIR[:TAG] | REGISTRY/REPO[:TAG|@DIGEST]")
          ->capture_default_str();
      app.add_option("--busybox", f->busybox, "Static busybox binary for --base busybox")
          ->capture_default_str();
      app.add_option("--owner", f->owner, "UID:GID of the model files (OpenShift: 1001:0)")
          ->capture_default_str();
      app.add_option("--mode", f->mode, "File modes: octal (0644) or chmod clauses (a=rX)")
          ->capture_default_str();
      app.add_option("--exec-mode", f->exec_mode,
                     "Modes of the files executable in the source (default: --mode), e.g. a=rx");
      app.add_option("--entrypoint", f->entrypoint,
                     "Image entrypoint, a JSON array: '[\"/usr/bin/modelcar\"]' (drops the base's "
                     "Cmd)");
      app.add_option("--cmd", f->cmd, "Image Cmd, a JSON array: '[\"--help\"]'");
      app.add_option("--env", f->env, "KEY=VALUE in the image config (repeatable)")
          ->allow_extra_args(false);
      app.add_option("--created", f->created,
                     "Timestamp for all entries: epoch seconds or YYYY-MM-DDTHH:MM:SSZ "
                     "(default: $SOURCE_DATE_EPOCH, else 0)");
      app.add_option("--small-file-threshold", f->small,
                     "Files smaller than this many bytes share one layer")
          ->capture_default_str();
      app.add_flag("--allow-outside-symlinks", f->allow_outside_symlinks,
                   "Follow symlinks that point outside the model directory");
      app.add_option("-j,--jobs", f->jobs, "Layers written at once")->capture_default_str();
      app.add_option("--progress", f->progress, "auto | tty | plain | json | none")
          ->capture_default_str();
      return [f]() { return Run(*f); };
    }};

}  // namespace
