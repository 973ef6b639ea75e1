// Media types of the OCI image spec and of Docker's schema2 (read-only support).
#ifndef MODELCAR_OCI_MEDIA_TYPES_H_
#define MODELCAR_OCI_MEDIA_TYPES_H_

#include <string_view>

namespace modelcar::oci {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayerTar = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerTarZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";

inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerTarGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerTar = "application/vnd.docker.image.rootfs.diff.tar";

// Annotation keys.
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kAnnotationTitle = "org.opencontainers.image.title";
inline constexpr std::string_view kAnnotationCreated = "org.opencontainers.image.created";

// The Accept header value for manifest GETs: every manifest and index type modelcar reads.
inline constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json";

inline bool IsManifestType(std::string_view t) { return t == kOciManifest || t == kDockerManifest; }
inline bool IsIndexType(std::string_view t) { return t == kOciIndex || t == kDockerManifestList; }
// Uncompressed tar layers (the only kind modelcar writes; the store can unpack them in place).
inline bool IsUncompressedLayer(std::string_view t) {
  return t == kOciLayerTar || t == kDockerLayerTar;
}

}  // namespace modelcar::oci

#endif  // MODELCAR_OCI_MEDIA_TYPES_H_
