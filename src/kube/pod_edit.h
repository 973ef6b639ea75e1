// Small idempotent edits of a Pod spec held as JSON, mirroring KServe's pkg/utils helpers
// (AddOrReplaceEnv, AddEmptyDirVolumeIfNotPresent, AddVolumeMountIfNotPresent, ...).
//
// Pointers returned point into the given json and stay valid until that array is modified.
#ifndef MODELCAR_KUBE_POD_EDIT_H_
#define MODELCAR_KUBE_POD_EDIT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace modelcar::kube {

// The container named `name` in spec[list] ("containers" or "initContainers"); nullptr if absent.
nlohmann::json* FindContainer(nlohmann::json& spec, std::string_view name,
                              const char* list = "containers");
const nlohmann::json* FindContainer(const nlohmann::json& spec, std::string_view name,
                                    const char* list = "containers");

// Sets env `name` to `value`, replacing an existing entry's value (and dropping its valueFrom).
void AddOrReplaceEnv(nlohmann::json& container, const std::string& name, const std::string& value);

// Value of env `name` ("" if absent or not a literal value).
std::string GetEnv(const nlohmann::json& container, std::string_view name);

// Appends `volume` unless a volume with its name exists. Returns the volume with that name.
nlohmann::json& AddVolumeIfNotPresent(nlohmann::json& spec, nlohmann::json volume);

// Appends {name, mountPath[, readOnly][, subPath]} unless a mount with `name` exists.
void AddVolumeMountIfNotPresent(nlohmann::json& container, const std::string& name,
                                const std::string& mount_path, bool read_only,
                                const std::string& sub_path = "");

// "/mnt/models" -> "/mnt"; "/a" -> "/"; like Go's filepath.Dir for clean absolute paths.
std::string ParentDirectory(std::string_view path);

}  // namespace modelcar::kube

#endif  // MODELCAR_KUBE_POD_EDIT_H_
