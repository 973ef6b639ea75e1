#include "oci/manifest.h"

#include <gtest/gtest.h>

#include "oci/media_types.h"

namespace modelcar::oci {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');

TEST(ManifestTest, CanonicalRoundTrip) {
  Manifest m;
  m.media_type = std::string(kOciManifest);
  m.config = {std::string(kOciConfig), *Digest::Parse(kA), 10, {}, {}, {}, {}};
  Descriptor layer{std::string(kOciLayerTar), *Digest::Parse(kB), 20, {}, {}, {}, {}};
  layer.annotations["z"] = "1";
  layer.annotations[std::string(kAnnotationTitle)] = "model.safetensors";
  m.layers.push_back(layer);
  std::string out = SerializeManifest(m);
  EXPECT_EQ(
      out, "{\"config\":{\"digest\":\"" + kA +
               "\",\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":10},"
               "\"layers\":[{\"annotations\":{\"org.opencontainers.image.title\":\"model."
               "safetensors\",\"z\":\"1\"},\"digest\":\"" +
               kB +
               "\",\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":20}],"
               "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2}");
  auto back = ParseManifest(out);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->layers, m.layers);
  EXPECT_EQ(back->config, m.config);
  EXPECT_EQ(SerializeManifest(*back), out);
}

TEST(ManifestTest, DockerSchema2) {
  std::string doc = R"({"schemaVersion":2,"mediaType":")" + std::string(kDockerManifest) +
                    R"(","config":{"mediaType":")" + std::string(kDockerConfig) +
                    R"(","size":7,"digest":")" + kA + R"("},"layers":[{"mediaType":")" +
                    std::string(kDockerLayerTarGzip) + R"(","size":9,"digest":")" + kB + R"("}]})";
  auto m = ParseManifest(doc, kDockerManifest);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->media_type, kDockerManifest);
  EXPECT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 9);
  // Content type disagreeing with the document.
  EXPECT_FALSE(ParseManifest(doc, kOciManifest).ok());
}

TEST(ManifestTest, RejectsBadDocumentsNamingTheField) {
  auto bad = [](const std::string& doc) {
    auto m = ParseManifest(doc);
    EXPECT_FALSE(m.ok()) << doc;
    return m.ok() ? std::string() : m.status().message();
  };
  EXPECT_NE(bad("not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(bad("[]").find("object"), std::string::npos);
  EXPECT_NE(bad(R"({"schemaVersion":1})").find("schemaVersion"), std::string::npos);
  std::string cfg = R"("config":{"mediaType":"x","size":1,"digest":")" + kA + "\"}";
  EXPECT_NE(bad(R"({"schemaVersion":2,)" + cfg + "}").find("layers"), std::string::npos);
  std::string msg = bad(R"({"schemaVersion":2,)" + cfg +
                        R"(,"layers":[{"mediaType":"x","size":1,"digest":"sha512:ab"}]})");
  EXPECT_NE(msg.find("layers[0].digest"), std::string::npos) << msg;
  msg = bad(R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"mediaType":"x","size":-1,"digest":")" +
            kA + "\"}]}");
  EXPECT_NE(msg.find("layers[0].size"), std::string::npos) << msg;
  msg = bad(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)" + cfg +
            R"(,"layers":[]})");
  EXPECT_NE(msg.find("not an image manifest"), std::string::npos) << msg;
}

TEST(IndexTest, RoundTripWithPlatform) {
  Index index;
  index.media_type = std::string(kOciIndex);
  Descriptor d{std::string(kOciManifest), *Digest::Parse(kA), 300, {}, {}, {}, {}};
  d.platform = Platform{"arm64", "linux", "v8", ""};
  d.annotations[std::string(kAnnotationRefName)] = "latest";
  index.manifests.push_back(d);
  std::string out = SerializeIndex(index);
  auto back = ParseIndex(out);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->manifests, index.manifests);
  EXPECT_EQ(SerializeIndex(*back), out);
  EXPECT_FALSE(ParseIndex(R"({"schemaVersion":2})").ok());
  // An OCI layout index.json without mediaType is accepted.
  EXPECT_TRUE(ParseIndex(R"({"schemaVersion":2,"manifests":[]})").ok());
}

TEST(ImageConfigTest, RoundTrip) {
  ImageConfig c;
  c.created = "1970-01-01T00:00:00Z";
  c.architecture = "amd64";
  c.os = "linux";
  c.cmd = std::vector<std::string>{"sh"};
  c.labels["b"] = "2";
  c.labels["a"] = "1";
  c.env = {"PATH=/bin"};
  c.diff_ids = {*Digest::Parse(kA), *Digest::Parse(kB)};
  c.history = {{"1970-01-01T00:00:00Z", "modelcar build", "", false}};
  std::string out = SerializeImageConfig(c);
  EXPECT_NE(out.find(R"("Labels":{"a":"1","b":"2"})"), std::string::npos) << out;
  EXPECT_EQ(out.find("Entrypoint"), std::string::npos);
  auto back = ParseImageConfig(out);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->diff_ids, c.diff_ids);
  EXPECT_EQ(back->cmd, c.cmd);
  EXPECT_FALSE(back->entrypoint.has_value());
  EXPECT_EQ(SerializeImageConfig(*back), out);
  auto bad = ParseImageConfig(R"({"rootfs":{"diff_ids":["md5:00"]}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("diff_ids[0]"), std::string::npos);
}

}  // namespace
}  // namespace modelcar::oci
