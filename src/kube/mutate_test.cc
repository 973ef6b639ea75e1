// Golden tests for Mutate (fixtures in testdata/golden/*.yaml, written by hand from KServe's Go
// source), idempotency, denials and config parsing.
#include "kube/mutate.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "base/file.h"
#include "kube/admission.h"
#include "kube/json_yaml.h"
#include "kube/pod_edit.h"
#include "kube/smoke.h"
#include "kube/workload.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

std::filesystem::path GoldenDir() {
  return std::filesystem::path(MODELCAR_KUBE_TESTDATA) / "golden";
}

json Load(const std::filesystem::path& p) {
  auto text = ReadFile(p.string());
  EXPECT_TRUE(text.ok()) << p;
  auto doc = ParseJsonOrYaml(*text, p.string());
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return doc.ok() ? *doc : json();
}

InjectConfig ConfigOf(const json& c) {
  if (c.is_null()) return DefaultInjectConfig();
  auto cfg = ParseInjectConfig(c.dump(), "fixture config");
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  return cfg.ok() ? *cfg : InjectConfig();
}

TEST(MutateGoldenTest, EveryFixture) {
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(GoldenDir())) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().filename().string());
    ++cases;
    json fx = Load(entry.path());
    InjectConfig cfg = ConfigOf(fx.value("config", json()));
    auto r = Mutate(fx["input"], cfg);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->denied) << r->message;
    EXPECT_EQ(r->pod, fx["expected"]) << "diff: " << json::diff(fx["expected"], r->pod).dump(2);
    EXPECT_EQ(r->warnings.size(), fx.value("warnings", 0u));
    // Idempotent (the webhook runs with reinvocationPolicy IfNeeded).
    auto again = Mutate(r->pod, cfg);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->pod, r->pod) << json::diff(r->pod, again->pod).dump(2);
    // The YAML emitter round-trips the result.
    auto back = ParseJsonOrYaml(ToYaml(r->pod), "emitted");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, r->pod);
  }
  EXPECT_GE(cases, 10);
}

json PodWith(const std::string& uri) {
  return {
      {"metadata", {{"annotations", {{kSourceUriAnnotation, uri}}}}},
      {"spec", {{"containers", json::array({{{"name", "kserve-container"}, {"image", "rt"}}})}}}};
}

// Every node of every fixture input replaced by values of other types: the library entry points
// return errors or denials, never throw (nlohmann's type errors are caught at the boundary).
TEST(MutateTest, WrongTypesNeverThrow) {
  const json replacements[] = {5, "x", json::array(), nullptr, json::object(), json::array({1})};
  int calls = 0;
  for (const auto& entry : std::filesystem::directory_iterator(GoldenDir())) {
    json input = Load(entry.path())["input"];
    std::vector<json::json_pointer> pointers;
    const json flat = input.flatten();
    for (const auto& [path, v] : flat.items()) {
      json::json_pointer p(path);
      while (!p.empty()) {
        pointers.push_back(p);
        p = p.parent_pointer();
      }
    }
    for (const auto& p : pointers) {
      for (const json& r : replacements) {
        json broken = input;
        broken[p] = r;
        InjectConfig cfg = DefaultInjectConfig();
        std::string where =
            entry.path().filename().string() + " " + p.to_string() + " = " + r.dump();
        EXPECT_NO_THROW((void)Mutate(broken, cfg)) << where;
        EXPECT_NO_THROW((void)SmokeChecks(broken)) << where;
        EXPECT_NO_THROW((void)PodFromManifest(std::vector<json>{broken})) << where;
        json review = {{"apiVersion", "admission.k8s.io/v1"},
                       {"kind", "AdmissionReview"},
                       {"request",
                        {{"uid", "u"},
                         {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                         {"operation", "CREATE"},
                         {"object", broken}}}};
        EXPECT_NO_THROW((void)HandleAdmissionReview(review.dump(), cfg)) << where;
        review["request"][p.back()] = r;
        EXPECT_NO_THROW((void)HandleAdmissionReview(review.dump(), cfg)) << where << " (request)";
        ++calls;
      }
    }
  }
  EXPECT_GT(calls, 500);
}

// The server learns which image it serves from MODELCAR_MODEL_IMAGE: on every target (worker and
// transformer too), in every mode, only for a digest and only for the source at /mnt/models.
TEST(MutateTest, ModelImageEnvNamesThePinnedSourceAtMntModels) {
  const std::string base = "reg.io/base@sha256:" + std::string(64, 'a');
  const std::string lora = "reg.io/lora@sha256:" + std::string(64, 'b');
  for (const char* scheme : {"oci://", "oci+native://", "oci+fetch://", "oci+cache://"}) {
    SCOPED_TRACE(scheme);
    json pod = PodWith(scheme + base);
    pod["metadata"]["annotations"][kExtraUrisAnnotation] =
        json::array({{{"uri", "oci://" + lora}, {"mountPath", "/mnt/adapters/models"}}}).dump();
    pod["spec"]["containers"] = json::array({{{"name", "worker-container"}, {"image", "vllm"}},
                                             {{"name", "transformer-container"}, {"image", "tr"}}});
    auto r = Mutate(pod, DefaultInjectConfig());
    ASSERT_TRUE(r.ok() && !r->denied) << (r.ok() ? r->message : r.status().ToString());
    for (const char* name : {"worker-container", "transformer-container"}) {
      const json* c = FindContainer(r->pod["spec"], name);
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(GetEnv(*c, kModelImageEnv), base) << name;
    }
  }
  // A tag (digestPolicy allow) names no digest: no env.
  auto tag = Mutate(PodWith("oci://reg.io/m:v1"), DefaultInjectConfig());
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(GetEnv(*FindContainer(tag->pod["spec"], "kserve-container"), kModelImageEnv), "");
}

TEST(MutateTest, RequirePolicyDeniesTags) {
  InjectConfig c = DefaultInjectConfig();
  c.digest_policy = DigestPolicy::kRequire;
  auto r = Mutate(PodWith("oci://reg.io/m:v1"), c);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_NE(r->message.find("not pinned to a digest"), std::string::npos) << r->message;
  EXPECT_EQ(r->pod, PodWith("oci://reg.io/m:v1"));  // a denial returns the input unchanged
  auto ok = Mutate(PodWith("oci://reg.io/m@sha256:" + std::string(64, 'a')), c);
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->denied);
}

TEST(MutateTest, ResolvePolicyPinsTheUriAndStaysIdempotent) {
  InjectConfig c = DefaultInjectConfig();
  c.digest_policy = DigestPolicy::kResolve;
  int calls = 0;
  DigestResolver resolver = [&](const std::string& ref) -> Result<std::string> {
    ++calls;
    EXPECT_EQ(ref, "reg.io/m:v1");
    return "sha256:" + std::string(64, 'b');
  };
  auto r = Mutate(PodWith("oci://reg.io/m:v1"), c, resolver);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->denied) << r->message;
  std::string pinned = "reg.io/m@sha256:" + std::string(64, 'b');
  EXPECT_EQ(r->pod["metadata"]["annotations"][kModelcarSourceAnnotation], "oci://" + pinned);
  EXPECT_FALSE(r->pod["metadata"]["annotations"].contains(kSourceUriAnnotation));
  EXPECT_EQ(r->pod["spec"]["containers"][1]["image"], pinned);
  EXPECT_EQ(r->pod["spec"]["containers"][1]["imagePullPolicy"], "IfNotPresent");
  auto again = Mutate(r->pod, c, resolver);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->pod, r->pod);
  EXPECT_EQ(calls, 1);

  auto failing = Mutate(
      PodWith("oci://reg.io/m:v1"), c,
      [](const std::string&) -> Result<std::string> { return NotFound("manifest unknown"); });
  ASSERT_TRUE(failing.ok());
  EXPECT_TRUE(failing->denied);
  EXPECT_NE(failing->message.find("manifest unknown"), std::string::npos);
  auto no_resolver = Mutate(PodWith("oci://reg.io/m:v1"), c);
  ASSERT_TRUE(no_resolver.ok());
  EXPECT_TRUE(no_resolver->denied);
}

TEST(MutateTest, UnparseableReferenceIsDeniedWithTheReason) {
  auto r = Mutate(PodWith("oci://Reg.io/UPPER/Case:v1"), DefaultInjectConfig());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_NE(r->message.find("oci://Reg.io/UPPER/Case:v1"), std::string::npos) << r->message;
  auto empty = Mutate(PodWith("oci://"), DefaultInjectConfig());
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->denied);
}

TEST(MutateTest, MissingTargetContainerIsDenied) {
  json pod = PodWith("oci://reg.io/m:v1");
  pod["spec"]["containers"][0]["name"] = "main";
  auto r = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_EQ(r->message, "no container found with name kserve-container");
}

// KServe v0.20's MaxOCISourcesPerPod: at most 10 sources that each add two containers (image
// volumes add none and do not count).
TEST(MutateTest, AtMostTenSources) {
  json pod = PodWith("oci://reg.io/m:v0");
  json extra = json::array();
  for (int i = 1; i <= 10; ++i) {
    std::string n = std::to_string(i);
    extra.push_back({{"uri", "oci://reg.io/m:v" + n}, {"mountPath", "/mnt/s" + n + "/models"}});
  }
  pod["metadata"]["annotations"][kExtraUrisAnnotation] = extra.dump();
  auto r = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_NE(r->message.find("at most 10"), std::string::npos);

  extra.erase(extra.size() - 1);  // ten in all: fine, names up to modelcar-9
  pod["metadata"]["annotations"][kExtraUrisAnnotation] = extra.dump();
  auto ok = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(ok.ok());
  ASSERT_FALSE(ok->denied) << ok->message;
  EXPECT_EQ(ok->pod["spec"]["containers"].size(), 11u);
  EXPECT_EQ(ok->pod["spec"]["containers"][10]["name"], "modelcar-9");
  EXPECT_EQ(ok->pod["spec"]["initContainers"][9]["name"], "modelcar-init-9");
  EXPECT_EQ(ok->pod["spec"]["volumes"][9]["name"], "kserve-provision-location-9");

  extra.push_back({{"uri", "oci+native://reg.io/m:n"}, {"mountPath", "/mnt/native/models"}});
  pod["metadata"]["annotations"][kExtraUrisAnnotation] = extra.dump();
  auto native = Mutate(pod, DefaultInjectConfig());  // 11 sources, 10 with containers
  ASSERT_TRUE(native.ok());
  ASSERT_FALSE(native->denied) << native->message;
  EXPECT_EQ(native->pod["spec"]["volumes"][10]["name"], "mnt-native-models");
}

TEST(MutateTest, BadExtraAnnotationAndSharedParentsAreDenied) {
  json pod = PodWith("oci://reg.io/m:v0");
  pod["metadata"]["annotations"][kExtraUrisAnnotation] = "{not json";
  auto r = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_NE(r->message.find(kExtraUrisAnnotation), std::string::npos);

  pod["metadata"]["annotations"][kExtraUrisAnnotation] =
      R"([{"uri": "oci://reg.io/x:1", "mountPath": "/mnt/other"}])";
  r = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_NE(r->message.find("parent directory"), std::string::npos) << r->message;
}

TEST(MutateTest, DisabledModelcarLeavesPodAndWarns) {
  InjectConfig c = DefaultInjectConfig();
  c.enable_modelcar = false;
  json pod = PodWith("oci://reg.io/m:v1");
  auto r = Mutate(pod, c);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->denied);
  EXPECT_EQ(r->pod, pod);
  EXPECT_EQ(r->warnings.size(), 1u);
}

TEST(MutateTest, MalformedPodsAreErrors) {
  EXPECT_EQ(Mutate(json::array(), DefaultInjectConfig()).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Mutate(json{{"kind", "Deployment"}, {"spec", json::object()}}, DefaultInjectConfig())
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Mutate(json{{"spec", {{"containers", 3}}}}, DefaultInjectConfig()).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Mutate(json{{"metadata", json::object()}}, DefaultInjectConfig()).status().code(),
            Code::kInvalidArgument);
}

TEST(ConfigTest, ParsesConfigMapYamlJsonAndBareObject) {
  const char* cm = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: inferenceservice-config}
data:
  storageInitializer: |-
    {"enableModelcar": true, "cpuModelcar": "25m", "uidModelcar": 1234, "digestPolicy": "require"}
)";
  auto c = ParseInjectConfig(cm, "cm.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->enable_modelcar);
  EXPECT_EQ(c->cpu_modelcar, "25m");
  EXPECT_EQ(c->memory_modelcar, "15Mi");
  EXPECT_EQ(c->uid_modelcar, 1234);
  EXPECT_EQ(c->digest_policy, DigestPolicy::kRequire);

  auto bare = ParseInjectConfig(R"({"memoryModelcar": "64Mi"})", "si.json");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->enable_modelcar);  // KServe's Go zero value
  EXPECT_FALSE(bare->uid_modelcar.has_value());
  EXPECT_EQ(bare->memory_modelcar, "64Mi");

  // A kind that is not a string (found by kube_json_yaml_fuzz: it threw out of the parser).
  auto odd = ParseInjectConfig("kind: {a: b}\nmemoryModelcar: 64Mi\n", "odd.yaml");
  ASSERT_TRUE(odd.ok()) << odd.status().ToString();
  EXPECT_EQ(odd->memory_modelcar, "64Mi");
}

TEST(ConfigTest, RegistryOptionsOfFetchMode) {
  auto c = ParseInjectConfig(R"({"caBundleConfigMapName": "registry-ca",
      "caBundleVolumeMountPath": "", "ociInsecureRegistry": true, "kserveNamespace": "ks"})",
                             "si.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ca_bundle_configmap, "registry-ca");
  EXPECT_EQ(c->ca_bundle_mount_path, "/etc/ssl/custom-certs");  // KServe: empty is the default
  EXPECT_TRUE(c->oci_insecure_registry);
  EXPECT_EQ(c->kserve_namespace, "ks");
  auto rel = ParseInjectConfig(R"({"caBundleVolumeMountPath": "certs"})", "si.json");
  EXPECT_NE(rel.status().message().find("caBundleVolumeMountPath"), std::string::npos);
  auto bad = ParseInjectConfig(R"({"ociInsecureRegistry": "yes"})", "si.json");
  EXPECT_NE(bad.status().message().find("ociInsecureRegistry"), std::string::npos);
}

TEST(ConfigTest, BadFieldsAreNamed) {
  auto q = ParseInjectConfig(R"({"cpuModelcar": "ten"})", "si.json");
  EXPECT_EQ(q.status().code(), Code::kInvalidArgument);
  EXPECT_NE(q.status().message().find("cpuModelcar"), std::string::npos);
  auto m = ParseInjectConfig(R"({"ociModelMode": "magic"})", "si.json");
  EXPECT_NE(m.status().message().find("ociModelMode"), std::string::npos);
  auto p = ParseInjectConfig(R"({"digestPolicy": 3})", "si.json");
  EXPECT_NE(p.status().message().find("digestPolicy"), std::string::npos);
  auto u = ParseInjectConfig(R"({"uidModelcar": "x"})", "si.json");
  EXPECT_NE(u.status().message().find("uidModelcar"), std::string::npos);
  auto j = ParseInjectConfig("{\"enableModelcar\": tru", "si.json");
  EXPECT_NE(j.status().message().find("si.json"), std::string::npos);
  auto cm = ParseInjectConfig("kind: ConfigMap\ndata: {other: x}\n", "cm.yaml");
  EXPECT_NE(cm.status().message().find("storageInitializer"), std::string::npos);
  auto inner =
      ParseInjectConfig("kind: ConfigMap\ndata: {storageInitializer: '{bad'}\n", "cm.yaml");
  EXPECT_EQ(inner.status().code(), Code::kInvalidArgument);
}

// yaml-cpp 0.7 loops forever, allocating, on these (found by kube_json_yaml_fuzz); empty
// documents in a stream are still skipped.
TEST(JsonYamlTest, StreamsThatStallTheParserAreErrors) {
  for (const char* text : {",", "# c\n,   x\napiVersion: v1\n", "a: 1\n---\n, b\n"}) {
    auto docs = ParseDocuments(text, "bad.yaml");
    ASSERT_FALSE(docs.ok()) << text;
    EXPECT_NE(docs.status().message().find("bad.yaml: malformed YAML at line"), std::string::npos)
        << docs.status().message();
  }
  auto docs = ParseDocuments("---\n---\na: 1\n---\n---\nb: 2\n", "ok.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().message();
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1]["b"], 2);
  // A tagged null scalar is an empty document too (it used to come back as a null document,
  // which ParseJsonOrYaml then refused as empty).
  docs = ParseDocuments("!x null\n---\na: 1\n---\n!x ~\n", "ok.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().message();
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ((*docs)[0]["a"], 1);
}

TEST(JsonYamlTest, ScalarsFollowTheCoreSchemaAndRoundTrip) {
  auto doc =
      ParseJsonOrYaml("a: 1\nb: '1'\nc: true\nd: \"yes\"\ne: ~\nf: 1.5\ng: 10m\nh: no\n", "t");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)["a"], 1);
  EXPECT_EQ((*doc)["b"], "1");
  EXPECT_EQ((*doc)["c"], true);
  EXPECT_EQ((*doc)["d"], "yes");
  EXPECT_TRUE((*doc)["e"].is_null());
  EXPECT_EQ((*doc)["f"], 1.5);
  EXPECT_EQ((*doc)["g"], "10m");
  EXPECT_EQ((*doc)["h"], "no");  // YAML 1.2: a string
  auto huge = ParseJsonOrYaml("a: 3e999\n", "t");
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ((*huge)["a"], "3e999");  // beyond a double: the text, not an infinity
  json tricky = {{"s", json::array({"1", "true", "no", "", "a: b", "# x", "$$$$", "-x", "0x1F",
                                    "multi\nline", "ok.value/x", "\r", "a\rb", "bell\x07",
                                    "del\x7f", "c1\xc2\x80", "nel\xc2\x85", "\xc3\xa9\x01"})},
                 {"empty", json::object()},
                 {"list", json::array()},
                 {"n", nullptr}};
  auto back = ParseJsonOrYaml(ToYaml(tricky), "emitted");
  ASSERT_TRUE(back.ok()) << ToYaml(tricky);
  EXPECT_EQ(*back, tricky) << ToYaml(tricky);
  // Document markers as whole documents and as values (yaml-cpp writes them plain).
  for (const char* marker : {"---", "...", "--- x", "...\tx", "---x"}) {
    const json s = marker;
    auto marker_back = ParseJsonOrYaml(ToYaml(s), "emitted");
    ASSERT_TRUE(marker_back.ok()) << ToYaml(s);
    EXPECT_EQ(*marker_back, s) << ToYaml(s);
    const json m = {{"k", marker}};
    auto map_back = ParseJsonOrYaml(ToYaml(m), "emitted");
    ASSERT_TRUE(map_back.ok()) << ToYaml(m);
    EXPECT_EQ(*map_back, m) << ToYaml(m);
  }
  // Keys past YAML's 1024-character limit for simple keys, plain and escaped.
  for (const std::string& key : {std::string(2000, 'k'), std::string(101, 'k'),
                                 std::string(300, '\0'), std::string(100, '\0')}) {
    const json m = {{key, nullptr}, {"after", {{key, 1}}}};
    auto long_back = ParseJsonOrYaml(ToYaml(m), "emitted");
    ASSERT_TRUE(long_back.ok()) << ToYaml(m);
    EXPECT_EQ(*long_back, m);
  }
  EXPECT_EQ(ParseJsonOrYaml("a: [1, 2", "bad.yaml").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseJsonOrYaml("a: \"\xef\xbf\xbf\"\n", "ffff.yaml").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(ParseJsonOrYaml("{\"a\": \"\\ufffe\"}", "fffe.json").status().code(),
            Code::kInvalidArgument);
  // Every noncharacter (yaml-cpp writes U+FFFD for each), JSON or YAML; their neighbours pass.
  for (const char* bad : {"{\"a\": \"\\ufdd0\"}", "{\"a\": \"x\\ufdef\"}",
                          "{\"a\": \"\\ud83f\\udffe\"}", "a: \"\xf4\x8f\xbf\xbf\"\n"}) {
    auto r = ParseJsonOrYaml(bad, "nonchar");
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("noncharacter"), std::string::npos) << r.status().message();
  }
  for (const char* good : {"{\"a\": \"\\ufdcf\\ufdf0\\ufffd\"}", "a: \"\xf0\x9f\xbf\xbd\"\n"}) {
    auto r = ParseJsonOrYaml(good, "neighbours");
    ASSERT_TRUE(r.ok()) << good << ": " << r.status().message();
    EXPECT_EQ(*ParseJsonOrYaml(ToYaml(*r), "emitted"), *r);
  }
  auto bad_utf8 = ParseJsonOrYaml("name: \"bad\xff\xfe\"\n", "utf.yaml");
  EXPECT_EQ(bad_utf8.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_utf8.status().message().find("UTF-8"), std::string::npos);
  EXPECT_EQ(ParseJsonOrYaml("{\"name\": \"bad\xff\"}", "utf.json").status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace modelcar::kube
