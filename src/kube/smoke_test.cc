// SmokeChecks on pods made by Mutate in each mode, and on the ways they go wrong.
#include "kube/smoke.h"

#include <gtest/gtest.h>

#include <map>

#include "kube/mutate.h"
#include "kube/pod_edit.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

const std::string kImage = "reg.io/m@sha256:" + std::string(64, 'a');

json Injected(const std::string& uri, json containers = nullptr,
              InjectConfig config = DefaultInjectConfig()) {
  if (containers.is_null()) {
    containers = json::array({{{"name", "kserve-container"}, {"image", "rt"}}});
  }
  json pod = {{"metadata", {{"annotations", {{kSourceUriAnnotation, uri}}}}},
              {"spec", {{"containers", containers}}}};
  auto r = Mutate(pod, config);
  EXPECT_TRUE(r.ok() && !r->denied);
  return r.ok() ? r->pod : json();
}

// name -> (pass, detail)
std::map<std::string, std::pair<bool, std::string>> Checks(const json& pod) {
  std::map<std::string, std::pair<bool, std::string>> m;
  for (const SmokeCheck& c : SmokeChecks(pod)) m[c.name] = {c.pass, c.detail};
  return m;
}

std::vector<std::string> Failed(const json& pod) {
  std::vector<std::string> f;
  for (const SmokeCheck& c : SmokeChecks(pod)) {
    if (!c.pass) f.push_back(c.name);
  }
  return f;
}

TEST(SmokeTest, SidecarPodPassesEveryCheck) {
  json pod = Injected("oci://" + kImage);
  std::vector<std::string> names;
  for (const SmokeCheck& c : SmokeChecks(pod)) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "injection", "kserve-container", "share-process-namespace", "init-container",
                       "modelcar-container", "image-matches-uri", "mnt-on-kserve-container",
                       "mnt-on-modelcar", "link-targets-mnt-models", "uid-ptrace"}));
  EXPECT_TRUE(Failed(pod).empty());
  EXPECT_EQ(Checks(pod)["uid-ptrace"].second, "kserve-container and modelcar run as uid 1010");
  EXPECT_EQ(FormatSmoke(SmokeChecks(pod)).substr(0, 42),
            "PASS injection (modelcar sidecar)\nPASS kse");
}

TEST(SmokeTest, RootServerWithoutPtraceAndSidecarAsAnotherUidFails) {  // KServe #4995
  json pod = Injected("oci://" + kImage);
  json& server = *FindContainer(pod["spec"], "kserve-container");
  server["securityContext"]["runAsUser"] = 0;
  auto r = Checks(pod);
  ASSERT_FALSE(r["uid-ptrace"].first);
  const std::string& why = r["uid-ptrace"].second;
  EXPECT_NE(why.find("kserve-container runs as uid 0 and the modelcar sidecar as uid 1010"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("#4995"), std::string::npos);
  EXPECT_NE(why.find("uidModelcar"), std::string::npos);
  EXPECT_NE(why.find("add SYS_PTRACE"), std::string::npos);
  EXPECT_EQ(Failed(pod), std::vector<std::string>{"uid-ptrace"});
  std::string line = FormatSmoke(SmokeChecks(pod));
  EXPECT_NE(line.find("FAIL uid-ptrace: kserve-container runs as uid 0"), std::string::npos);

  // Root with CAP_SYS_PTRACE (added, ALL, or privileged) can follow the link.
  for (json sc : {json{{"runAsUser", 0}, {"capabilities", {{"add", {"SYS_PTRACE"}}}}},
                  json{{"runAsUser", 0}, {"capabilities", {{"add", {"ALL"}}}}},
                  json{{"runAsUser", 0}, {"privileged", true}}}) {
    server["securityContext"] = sc;
    EXPECT_TRUE(Checks(pod)["uid-ptrace"].first) << sc.dump();
  }
  // A non-root server of another uid cannot, even with the capability added (not effective).
  server["securityContext"] = {{"runAsUser", 1000}, {"capabilities", {{"add", {"SYS_PTRACE"}}}}};
  r = Checks(pod);
  EXPECT_FALSE(r["uid-ptrace"].first);
  EXPECT_EQ(r["uid-ptrace"].second.find("add SYS_PTRACE"), std::string::npos);
}

TEST(SmokeTest, PodSecurityContextAndUnsetUids) {
  InjectConfig no_uid = DefaultInjectConfig();
  no_uid.uid_modelcar.reset();
  json pod = Injected("oci://" + kImage, nullptr, no_uid);
  auto r = Checks(pod);
  EXPECT_TRUE(r["uid-ptrace"].first);  // the images' users decide: told, not failed
  EXPECT_NE(r["uid-ptrace"].second.find("the image's user"), std::string::npos);
  pod["spec"]["securityContext"]["runAsUser"] = 2000;  // applies to both
  EXPECT_EQ(Checks(pod)["uid-ptrace"].second, "kserve-container and modelcar run as uid 2000");
  FindContainer(pod["spec"], "modelcar")->operator[]("securityContext") = {{"runAsUser", 3000}};
  EXPECT_FALSE(Checks(pod)["uid-ptrace"].first);
}

TEST(SmokeTest, WorkerAndTransformerContainers) {
  json pod =
      Injected("oci://" + kImage,
               json::array({{{"name", "worker-container"}}, {{"name", "transformer-container"}}}));
  auto r = Checks(pod);
  EXPECT_TRUE(Failed(pod).empty()) << FormatSmoke(SmokeChecks(pod));
  EXPECT_TRUE(r.count("worker-container") && r.count("mnt-on-worker-container"));
  EXPECT_TRUE(r.count("mnt-on-transformer-container"));
  EXPECT_EQ(r["uid-ptrace"].second,
            "worker-container and modelcar run as uid 1010; transformer-container and modelcar "
            "run as uid 1010");
  FindContainer(pod["spec"], "transformer-container")->erase("volumeMounts");
  FindContainer(pod["spec"], "transformer-container")->operator[]("securityContext") = {
      {"runAsUser", 0}};
  EXPECT_EQ(Failed(pod), (std::vector<std::string>{"mnt-on-transformer-container", "uid-ptrace"}));
}

TEST(SmokeTest, NativeFetchAndCacheModes) {
  json native = Injected("oci+native://" + kImage);
  EXPECT_TRUE(Failed(native).empty()) << FormatSmoke(SmokeChecks(native));
  EXPECT_EQ(Checks(native)["injection"].second, "native image volume");
  EXPECT_EQ(Checks(native).count("uid-ptrace"), 0u);
  FindContainer(native["spec"], "kserve-container")->erase("volumeMounts");
  EXPECT_EQ(Failed(native), std::vector<std::string>{"mnt-on-kserve-container"});

  json fetch = Injected("oci+fetch://" + kImage);
  EXPECT_TRUE(Failed(fetch).empty()) << FormatSmoke(SmokeChecks(fetch));
  EXPECT_EQ(Checks(fetch)["injection"].second, "fetch init container modelcar-fetch");

  InjectConfig cache_config = DefaultInjectConfig();
  cache_config.oci_mode = OciMode::kCache;
  json cache = Injected("oci://" + kImage, nullptr, cache_config);
  auto r = Checks(cache);
  EXPECT_TRUE(Failed(cache).empty()) << FormatSmoke(SmokeChecks(cache));
  EXPECT_TRUE(r.count("store-on-kserve-container"));
  json& mounts = (*FindContainer(cache["spec"], "kserve-container"))["volumeMounts"];
  mounts.erase(mounts.begin() + 1);  // the store
  EXPECT_EQ(Failed(cache), std::vector<std::string>{"store-on-kserve-container"});
}

TEST(SmokeTest, MissingOrMismatchedInjection) {
  json plain = {{"metadata", {{"annotations", {{kSourceUriAnnotation, "oci://" + kImage}}}}},
                {"spec", {{"containers", json::array({{{"name", "kserve-container"}}})}}}};
  auto r = Checks(plain);
  EXPECT_FALSE(r["injection"].first);
  EXPECT_NE(r["injection"].second.find("no modelcar injection found"), std::string::npos);
  EXPECT_FALSE(r["share-process-namespace"].first);  // checked as KServe's sidecar mode
  EXPECT_FALSE(r["modelcar-container"].first);

  json sidecar = Injected("oci://" + kImage);
  sidecar["metadata"]["annotations"][kSourceUriAnnotation] = "oci+fetch://" + kImage;
  r = Checks(sidecar);
  EXPECT_FALSE(r["injection"].first);
  EXPECT_NE(r["injection"].second.find("asks for the fetch init container"), std::string::npos);
  EXPECT_FALSE(r["init-container"].first);

  json other = Injected("oci://" + kImage);
  (*FindContainer(other["spec"], "modelcar"))["image"] = "reg.io/other:v1";
  EXPECT_EQ(Failed(other), std::vector<std::string>{"image-matches-uri"});

  for (const json& bad : {json(5), json::object(), json{{"spec", {{"containers", 7}}}}}) {
    EXPECT_FALSE(Failed(bad).empty()) << bad.dump();
  }
}

}  // namespace
}  // namespace modelcar::kube
