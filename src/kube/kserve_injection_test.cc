// Mutate on pods that already carry KServe's injection (takeover, pinning of KServe's images),
// KServe v0.20 fidelity details (quoting, schemes, fetch registry options).
#include "kube/kserve_injection.h"

#include <gtest/gtest.h>

#include "kube/mutate.h"
#include "kube/pod_edit.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

const std::string kDigest = "sha256:" + std::string(64, 'b');

json PodWith(const std::string& uri) {
  return {
      {"metadata", {{"annotations", {{kSourceUriAnnotation, uri}}}}},
      {"spec", {{"containers", json::array({{{"name", "kserve-container"}, {"image", "rt:1"}}})}}}};
}

// KServe v0.20's InjectModelcar for `image` at /mnt/models with uidModelcar 1010.
json KserveInjected(const std::string& image) {
  json pod = PodWith("oci://" + image);
  json& spec = pod["spec"];
  spec["containers"][0]["env"] = json::array({{{"name", "MODEL_INIT_MODE"}, {"value", "async"}}});
  spec["containers"][0]["volumeMounts"] =
      json::array({{{"name", "kserve-provision-location"}, {"mountPath", "/mnt"}}});
  spec["containers"][0]["securityContext"] = {{"runAsUser", 1010}};
  json r = {{"cpu", "10m"}, {"memory", "15Mi"}};
  spec["containers"].push_back(
      {{"name", "modelcar"},
       {"image", image},
       {"args", {"sh", "-c", "ln -sf /proc/$$$$/root/models /mnt/models && sleep infinity"}},
       {"volumeMounts",
        json::array({{{"name", "kserve-provision-location"}, {"mountPath", "/mnt"}}})},
       {"resources", {{"limits", r}, {"requests", r}}},
       {"securityContext", {{"runAsUser", 1010}}},
       {"terminationMessagePolicy", "FallbackToLogsOnError"}});
  spec["initContainers"] = json::array({{{"name", "modelcar-init"},
                                         {"image", image},
                                         {"args", ModelcarInitArgs(image)},
                                         {"resources", {{"limits", r}, {"requests", r}}},
                                         {"terminationMessagePolicy", "FallbackToLogsOnError"}}});
  spec["volumes"] =
      json::array({{{"name", "kserve-provision-location"}, {"emptyDir", json::object()}}});
  spec["shareProcessNamespace"] = true;
  return pod;
}

DigestResolver CountingResolver(int* calls) {
  return [calls](const std::string&) -> Result<std::string> {
    ++*calls;
    return kDigest;
  };
}

TEST(TakeoverTest, KserveSidecarOfATagIsPinnedInPlace) {
  InjectConfig c = DefaultInjectConfig();
  c.digest_policy = DigestPolicy::kResolve;
  int calls = 0;
  auto r = Mutate(KserveInjected("reg.io/m:v1"), c, CountingResolver(&calls));
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->denied) << r->message;
  const std::string pinned = "reg.io/m@" + kDigest;
  const json& spec = r->pod["spec"];
  ASSERT_EQ(spec["containers"].size(), 2u);  // no second sidecar
  EXPECT_EQ(spec["containers"][1]["image"], pinned);
  EXPECT_EQ(spec["containers"][1]["imagePullPolicy"], "IfNotPresent");
  ASSERT_EQ(spec["initContainers"].size(), 1u);
  EXPECT_EQ(spec["initContainers"][0]["image"], pinned);
  EXPECT_EQ(spec["initContainers"][0]["args"], ModelcarInitArgs(pinned));
  EXPECT_EQ(r->pod["metadata"]["annotations"],
            json({{kModelcarSourceAnnotation, "oci://" + pinned}}));
  EXPECT_EQ(r->pod.dump().find("m:v1"), std::string::npos) << r->pod.dump();
  // The pod modelcar injects by itself is the same.
  auto alone = Mutate(PodWith("oci://reg.io/m:v1"), c, CountingResolver(&calls));
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(alone->pod, r->pod) << json::diff(alone->pod, r->pod).dump();
  auto again = Mutate(r->pod, c, CountingResolver(&calls));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->pod, r->pod);
  EXPECT_EQ(calls, 2);  // the pinned pod needs no lookup
}

TEST(TakeoverTest, NativeModeReplacesKserveSidecarAndPinsKserveImageVolume) {
  InjectConfig c = DefaultInjectConfig();
  c.oci_mode = OciMode::kNative;
  c.digest_policy = DigestPolicy::kResolve;
  int calls = 0;
  auto r = Mutate(KserveInjected("reg.io/m:v1"), c, CountingResolver(&calls));
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->denied) << r->message;
  const json& spec = r->pod["spec"];
  EXPECT_EQ(spec["containers"].size(), 1u);
  EXPECT_FALSE(spec.contains("initContainers"));
  ASSERT_EQ(spec["volumes"].size(), 1u);
  EXPECT_EQ(spec["volumes"][0]["name"], "mnt-models");
  EXPECT_EQ(spec["volumes"][0]["image"]["reference"], "reg.io/m@" + kDigest);
  EXPECT_EQ(spec["containers"][0]["volumeMounts"],
            json::parse(R"([{"name": "mnt-models", "mountPath": "/mnt/models", "readOnly": true,
                             "subPath": "models"}])"));
  // What KServe's injection set on the pod level stays (it cannot be told from the user's).
  EXPECT_EQ(spec["shareProcessNamespace"], true);
  EXPECT_EQ(spec["containers"][0]["securityContext"]["runAsUser"], 1010);
  json plain = Mutate(PodWith("oci://reg.io/m:v1"), c, CountingResolver(&calls)).value().pod;

  // KServe's own native mode ran first with the tag: the volume is pinned, not duplicated.
  json kserve_native = PodWith("oci://reg.io/m:v1");
  kserve_native["spec"]["volumes"] =
      json::array({{{"name", "mnt-models"},
                    {"image", {{"reference", "reg.io/m:v1"}, {"pullPolicy", "IfNotPresent"}}}}});
  kserve_native["spec"]["containers"][0]["volumeMounts"] = spec["containers"][0]["volumeMounts"];
  auto n = Mutate(kserve_native, c, CountingResolver(&calls));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->pod, plain) << json::diff(plain, n->pod).dump();
  // In modelcar mode, KServe's image volume goes.
  c.oci_mode = OciMode::kModelcar;
  auto m = Mutate(kserve_native, c, CountingResolver(&calls));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->pod["spec"]["volumes"],
            json::parse(R"([{"name": "kserve-provision-location", "emptyDir": {}}])"));
}

// A mount at /mnt/models from another volume is denied as KServe denies it.
TEST(TakeoverTest, NativeMountPathTakenByAnotherVolumeIsDenied) {
  InjectConfig c = DefaultInjectConfig();
  c.oci_mode = OciMode::kNative;
  json pod = PodWith("oci://reg.io/m@" + kDigest);
  pod["spec"]["containers"][0]["volumeMounts"] =
      json::array({{{"name", "cache"}, {"mountPath", "/mnt/models"}}});
  pod["spec"]["volumes"] = json::array({{{"name", "cache"}, {"emptyDir", json::object()}}});
  auto r = Mutate(pod, c);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_EQ(r->message, "mountPath /mnt/models already used by volume cache");
}

// KServe's controller injects storageUris itself: modelcar's pod webhook sees only the images.
TEST(PinInjectedTest, ControllerInjectedImagesGetTheDigestPolicy) {
  json pod = KserveInjected("reg.io/m:v1");
  pod["metadata"].erase("annotations");
  json& spec = pod["spec"];
  spec["containers"][1]["name"] = "modelcar-1";
  spec["initContainers"][0]["name"] = "modelcar-init-1";
  spec["volumes"].push_back(
      {{"name", "mnt-adapter"},
       {"image", {{"reference", "reg.io/a:v2"}, {"pullPolicy", "IfNotPresent"}}}});
  spec["containers"][0]["volumeMounts"].push_back(
      {{"name", "mnt-adapter"}, {"mountPath", "/mnt/adapter"}, {"subPath", "models"}});

  InjectConfig c = DefaultInjectConfig();
  auto allow = Mutate(pod, c);
  ASSERT_TRUE(allow.ok());
  EXPECT_EQ(allow->pod, pod);
  EXPECT_EQ(allow->warnings.size(), 2u);

  c.digest_policy = DigestPolicy::kRequire;
  auto require = Mutate(pod, c);
  ASSERT_TRUE(require.ok());
  EXPECT_TRUE(require->denied);
  EXPECT_NE(require->message.find("container modelcar-1"), std::string::npos) << require->message;

  c.digest_policy = DigestPolicy::kResolve;
  int calls = 0;
  auto resolve = Mutate(pod, c, CountingResolver(&calls));
  ASSERT_TRUE(resolve.ok());
  ASSERT_FALSE(resolve->denied) << resolve->message;
  const json& out = resolve->pod["spec"];
  EXPECT_EQ(out["containers"][1]["image"], "reg.io/m@" + kDigest);
  EXPECT_EQ(out["containers"][1]["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(out["initContainers"][0]["image"], "reg.io/m@" + kDigest);
  EXPECT_EQ(out["initContainers"][0]["args"], ModelcarInitArgs("reg.io/m@" + kDigest));
  EXPECT_EQ(out["volumes"][1]["image"]["reference"], "reg.io/a@" + kDigest);
  EXPECT_EQ(calls, 2);
  auto again = Mutate(resolve->pod, c, CountingResolver(&calls));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->pod, resolve->pod);
  EXPECT_EQ(calls, 2);
}

TEST(FidelityTest, SidecarCommandQuotesPathsAndCreatesTheParent) {
  json pod = PodWith("oci://reg.io/m@" + kDigest);
  pod["metadata"]["annotations"][kExtraUrisAnnotation] =
      json::array({{{"uri", "oci://reg.io/a@" + kDigest}, {"mountPath", "/mnt/my dir/it's"}}})
          .dump();
  auto r = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->denied) << r->message;
  EXPECT_EQ(r->pod["spec"]["containers"][2]["args"][2],
            "mkdir -p '/mnt/my dir' && ln -sf /proc/$$$$/root/models '/mnt/my dir/it'\\''s' && "
            "sleep infinity");
  EXPECT_EQ(r->pod["spec"]["containers"][0]["volumeMounts"][1]["mountPath"], "/mnt/my dir");
}

TEST(FidelityTest, SchemesSelectModes) {
  InjectConfig c = DefaultInjectConfig();
  c.oci_mode = OciMode::kNative;
  auto r = Mutate(PodWith("oci+modelcar://reg.io/m@" + kDigest), c);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->denied) << r->message;
  EXPECT_EQ(r->pod["spec"]["containers"][1]["name"], "modelcar");
  EXPECT_EQ(r->pod["spec"]["containers"][1]["image"], "reg.io/m@" + kDigest);

  auto unknown = Mutate(PodWith("oci+magic://reg.io/m@" + kDigest), c);
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->denied);
  EXPECT_NE(unknown->message.find("unknown OCI scheme oci+magic://"), std::string::npos);
  // KServe's ParseOciScheme: "oci+://" is no OCI URI at all.
  auto empty_mode = Mutate(PodWith("oci+://reg.io/m"), c);
  ASSERT_TRUE(empty_mode.ok());
  EXPECT_FALSE(empty_mode->denied);
  EXPECT_EQ(empty_mode->pod, PodWith("oci+://reg.io/m"));
}

TEST(FidelityTest, StorageUrisDefaultToMntModelsAndMayNotShareAParent) {
  json pod = {
      {"metadata", {{"annotations", {{kExtraUrisAnnotation, R"([{"uri": "oci://reg.io/a:1"}])"}}}}},
      {"spec", {{"containers", json::array({{{"name", "kserve-container"}}})}}}};
  auto one = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(one.ok());
  ASSERT_FALSE(one->denied) << one->message;
  EXPECT_EQ(one->pod["spec"]["containers"][1]["name"], "modelcar");  // first OCI source: index 0
  EXPECT_EQ(one->pod["spec"]["containers"][1]["args"][2],
            "ln -sf /proc/$$$$/root/models /mnt/models && sleep infinity");
  pod["metadata"]["annotations"][kExtraUrisAnnotation] =
      R"([{"uri": "oci://reg.io/a:1"}, {"uri": "oci://reg.io/b:1"}])";
  auto two = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(two.ok());
  EXPECT_TRUE(two->denied);
  EXPECT_NE(two->message.find("parent directory"), std::string::npos) << two->message;
}

TEST(FidelityTest, NonOciTriggerWithOciExtrasIsDenied) {
  json pod = PodWith("s3://bucket/model");
  pod["metadata"]["annotations"][kExtraUrisAnnotation] =
      R"([{"uri": "oci://reg.io/a:1", "mountPath": "/mnt/a/models"}])";
  auto r = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_NE(r->message.find("s3://bucket/model"), std::string::npos) << r->message;
}

TEST(FidelityTest, FetchAndCacheTakeKserveRegistryOptions) {
  InjectConfig c = DefaultInjectConfig();
  c.oci_mode = OciMode::kFetch;
  c.ca_bundle_configmap = "registry-ca";
  c.oci_insecure_registry = true;
  auto in_kserve = Mutate(PodWith("oci://reg.io/m@" + kDigest), c, nullptr, "kserve");
  ASSERT_TRUE(in_kserve.ok());
  ASSERT_FALSE(in_kserve->denied) << in_kserve->message;
  const json& init = in_kserve->pod["spec"]["initContainers"][0];
  EXPECT_EQ(init["args"], json({"fetch", "--store", "/mnt/.modelcar-store", "--ca-file",
                                "/etc/ssl/custom-certs/cabundle.crt", "--plain-http",
                                "reg.io/m@" + kDigest, "/mnt/models"}));
  EXPECT_EQ(init["volumeMounts"][1], json({{"name", "cabundle-cert"},
                                           {"mountPath", "/etc/ssl/custom-certs"},
                                           {"readOnly", true}}));
  EXPECT_EQ(in_kserve->pod["spec"]["volumes"][1],
            json({{"name", "cabundle-cert"}, {"configMap", {{"name", "registry-ca"}}}}));
  // Elsewhere KServe mirrors the bundle to global-ca-bundle.
  auto elsewhere = Mutate(PodWith("oci://reg.io/m@" + kDigest), c, nullptr, "models");
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(elsewhere->pod["spec"]["volumes"][1]["configMap"]["name"], "global-ca-bundle");

  c.oci_mode = OciMode::kCache;
  c.node_cache = NodeCacheConfig();
  c.ca_bundle_mount_path = "/etc/my certs";
  auto cache = Mutate(PodWith("oci://reg.io/m@" + kDigest), c, nullptr, "models");
  ASSERT_TRUE(cache.ok());
  std::string script = cache->pod["spec"]["initContainers"][0]["command"][2];
  EXPECT_NE(script.find("modelcar fetch --store /mnt/.modelcar-store --ca-file "
                        "'/etc/my certs/cabundle.crt' --plain-http reg.io/m@" +
                        kDigest + " /mnt/models"),
            std::string::npos)
      << script;
}

TEST(PodEditTest, KserveHelpers) {
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("/mnt/models-1/a_b.c"), "/mnt/models-1/a_b.c");
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("$(reboot)"), "'$(reboot)'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote("caf\xc3\xa9"), "'caf\xc3\xa9'");
  EXPECT_EQ(VolumeNameFromPath("/mnt/models"), "mnt-models");
  EXPECT_EQ(VolumeNameFromPath("/mnt/a/b/"), "mnt-a-b");
  EXPECT_EQ(NativeVolumeName("/"), "oci-model");
  EXPECT_EQ(ParentDirectory("/mnt/models"), "/mnt");

  json spec = json::parse(R"({"containers": [{"name": "a", "volumeMounts": [{"name": "x",
      "mountPath": "/x"}]}], "volumes": [{"name": "x"}, {"name": "y"}, {"name": "z"}]})");
  RemoveUnmountedVolumes(spec, {"x", "y"});
  EXPECT_EQ(spec["volumes"], json::parse(R"([{"name": "x"}, {"name": "z"}])"));
  EXPECT_EQ(RemoveVolumeMounts(spec["containers"][0], "x", "/x"), 0);
  EXPECT_EQ(RemoveVolumeMounts(spec["containers"][0], "x"), 1);
  EXPECT_FALSE(spec["containers"][0].contains("volumeMounts"));
  EXPECT_TRUE(RemoveContainer(spec, "a").has_value());
  EXPECT_FALSE(spec.contains("containers"));
}

}  // namespace
}  // namespace modelcar::kube
