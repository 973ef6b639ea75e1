// Small idempotent edits of a Pod spec held as JSON, mirroring KServe's pkg/utils helpers
// (AddOrReplaceEnv, AddEmptyDirVolumeIfNotPresent, AddVolumeMountIfNotPresent, ShellQuote,
// GetVolumeNameFromPath, ...), plus the removals modelcar needs to take over an injection.
//
// Pointers returned point into the given json and stay valid until that array is modified.
#ifndef MODELCAR_KUBE_POD_EDIT_H_
#define MODELCAR_KUBE_POD_EDIT_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace modelcar::kube {

// The container named `name` in spec[list] ("containers" or "initContainers"); nullptr if absent.
nlohmann::json* FindContainer(nlohmann::json& spec, std::string_view name,
                              const char* list = "containers");
const nlohmann::json* FindContainer(const nlohmann::json& spec, std::string_view name,
                                    const char* list = "containers");

// Removes the container named `name` from spec[list] and returns it; nullopt if absent. A list
// left empty is removed.
std::optional<nlohmann::json> RemoveContainer(nlohmann::json& spec, std::string_view name,
                                              const char* list = "containers");

// Sets env `name` to `value`, replacing an existing entry's value (and dropping its valueFrom).
void AddOrReplaceEnv(nlohmann::json& container, const std::string& name, const std::string& value);

// Value of env `name` ("" if absent or not a literal value).
std::string GetEnv(const nlohmann::json& container, std::string_view name);

// The volume named `name` in spec.volumes; nullptr if absent.
nlohmann::json* FindVolume(nlohmann::json& spec, std::string_view name);

// Appends `volume` unless a volume with its name exists. Returns the volume with that name.
nlohmann::json& AddVolumeIfNotPresent(nlohmann::json& spec, nlohmann::json volume);

// Appends {name, mountPath[, readOnly][, subPath]} unless a mount with `name` exists.
void AddVolumeMountIfNotPresent(nlohmann::json& container, const std::string& name,
                                const std::string& mount_path, bool read_only,
                                const std::string& sub_path = "");

// Removes `container`'s mounts of volume `name`; with `keep_path`, a mount of `name` at exactly
// that path is kept. Returns how many mounts it removed.
int RemoveVolumeMounts(nlohmann::json& container, std::string_view name,
                       std::optional<std::string_view> keep_path = std::nullopt);

// Removes the volumes named in `names` that no container or init container mounts any more.
void RemoveUnmountedVolumes(nlohmann::json& spec, const std::set<std::string>& names);

// Names of the volumes `container` mounts.
std::set<std::string> MountedVolumes(const nlohmann::json& container);

// "/mnt/models" -> "/mnt"; "/a" -> "/"; like Go's filepath.Dir for clean absolute paths.
std::string ParentDirectory(std::string_view path);

// KServe's GetVolumeNameFromPath: "/mnt/models" -> "mnt-models" (slashes trimmed, inner ones
// become dashes).
std::string VolumeNameFromPath(std::string_view path);

// KServe's ShellQuote: unchanged when every character is a letter, digit, '/', '.', '_' or '-';
// otherwise wrapped in single quotes with embedded quotes as '\''. "" -> ''.
std::string ShellQuote(std::string_view s);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_POD_EDIT_H_
