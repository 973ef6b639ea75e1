// MutateModelObject and its AdmissionReview path: digestPolicy on InferenceService and
// LLMInferenceService objects.
#include "kube/model_objects.h"

#include <gtest/gtest.h>

#include "base/base64.h"
#include "kube/admission.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

const std::string kDigest = "sha256:" + std::string(64, 'd');

json Isvc() {
  return json::parse(R"({
    "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
    "metadata": {"name": "qwen", "namespace": "models"},
    "spec": {
      "predictor": {
        "model": {"modelFormat": {"name": "modelcar"}, "storageUri": "oci://reg.io/m:v1"},
        "storageUris": [{"uri": "oci://reg.io/a:v1", "mountPath": "/mnt/a/models"},
                        {"uri": "s3://bucket/x"}]},
      "transformer": {
        "containers": [{"name": "kserve-container", "image": "t:1",
                        "env": [{"name": "OTHER", "value": "oci://not/a:source"},
                                {"name": "STORAGE_URI", "value": "oci://reg.io/t:v1"}]}]}}})");
}

json Llm() {
  return json::parse(R"({
    "apiVersion": "serving.kserve.io/v1alpha2", "kind": "LLMInferenceService",
    "metadata": {"name": "llm"},
    "spec": {"model": {"uri": "oci+native://reg.io/llm:v1", "name": "llm",
                       "lora": {"adapters": [{"name": "x", "uri": "hf://org/x"},
                                             {"name": "y", "uri": "oci://reg.io/y:v1"}]}}}})");
}

InjectConfig WithPolicy(DigestPolicy p) {
  InjectConfig c = DefaultInjectConfig();
  c.digest_policy = p;
  return c;
}

DigestResolver Resolver(std::vector<std::string>* asked) {
  return [asked](const std::string& ref) -> Result<std::string> {
    asked->push_back(ref);
    return kDigest;
  };
}

TEST(ModelObjectTest, ResolvePinsEveryOciReference) {
  std::vector<std::string> asked;
  auto r = MutateModelObject("InferenceService", Isvc(), nullptr,
                             WithPolicy(DigestPolicy::kResolve), Resolver(&asked));
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->denied) << r->message;
  EXPECT_EQ(asked, std::vector<std::string>({"reg.io/m:v1", "reg.io/a:v1", "reg.io/t:v1"}));
  json want = Isvc();
  want["spec"]["predictor"]["model"]["storageUri"] = "oci://reg.io/m@" + kDigest;
  want["spec"]["predictor"]["storageUris"][0]["uri"] = "oci://reg.io/a@" + kDigest;
  want["spec"]["transformer"]["containers"][0]["env"][1]["value"] = "oci://reg.io/t@" + kDigest;
  EXPECT_EQ(r->pod, want) << json::diff(want, r->pod).dump();

  asked.clear();
  auto llm = MutateModelObject("LLMInferenceService", Llm(), nullptr,
                               WithPolicy(DigestPolicy::kResolve), Resolver(&asked));
  ASSERT_TRUE(llm.ok());
  ASSERT_FALSE(llm->denied) << llm->message;
  EXPECT_EQ(llm->pod["spec"]["model"]["uri"], "oci+native://reg.io/llm@" + kDigest);
  EXPECT_EQ(llm->pod["spec"]["model"]["lora"]["adapters"][0]["uri"], "hf://org/x");
  EXPECT_EQ(llm->pod["spec"]["model"]["lora"]["adapters"][1]["uri"], "oci://reg.io/y@" + kDigest);
}

TEST(ModelObjectTest, RequireDeniesNamingTheField) {
  auto r =
      MutateModelObject("InferenceService", Isvc(), nullptr, WithPolicy(DigestPolicy::kRequire));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->denied);
  EXPECT_EQ(
      r->message,
      "digestPolicy require: /spec/predictor/model/storageUri oci://reg.io/m:v1 is not pinned "
      "to a digest; use oci://reg.io/m@sha256:<digest>");
  EXPECT_EQ(r->pod, Isvc());
  auto allow =
      MutateModelObject("InferenceService", Isvc(), nullptr, WithPolicy(DigestPolicy::kAllow));
  ASSERT_TRUE(allow.ok());
  EXPECT_FALSE(allow->denied);
  EXPECT_EQ(allow->pod, Isvc());
  EXPECT_EQ(allow->warnings.size(), 3u);
}

// Updates that keep a stored reference never fail (finalizers, labels of older objects); a
// changed reference gets the policy. Objects being deleted pass unchanged.
TEST(ModelObjectTest, UpdatesAndDeletions) {
  json old = Isvc();
  json updated = Isvc();
  updated["metadata"]["finalizers"] = json::array({"inferenceservice.finalizers"});
  auto same =
      MutateModelObject("InferenceService", updated, old, WithPolicy(DigestPolicy::kRequire));
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->denied) << same->message;
  EXPECT_EQ(same->pod, updated);
  EXPECT_EQ(same->warnings.size(), 3u);

  updated["spec"]["predictor"]["model"]["storageUri"] = "oci://reg.io/m:v2";
  auto changed =
      MutateModelObject("InferenceService", updated, old, WithPolicy(DigestPolicy::kRequire));
  ASSERT_TRUE(changed.ok());
  EXPECT_TRUE(changed->denied);
  EXPECT_NE(changed->message.find("m:v2"), std::string::npos);

  updated["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  auto deleting =
      MutateModelObject("InferenceService", updated, old, WithPolicy(DigestPolicy::kRequire));
  ASSERT_TRUE(deleting.ok());
  EXPECT_FALSE(deleting->denied);
}

TEST(ModelObjectTest, SchemesKserveRefusesAreWarnedUnknownOnesDenied) {
  json isvc = json::parse(R"({"kind": "InferenceService", "spec": {"predictor": {"model":
      {"storageUri": "oci+fetch://reg.io/m@)" +
                          kDigest + R"("}}}})");
  auto r = MutateModelObject("InferenceService", isvc, nullptr, DefaultInjectConfig());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->denied);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("refuses /spec/predictor/model/storageUri"), std::string::npos)
      << r->warnings[0];
  isvc["spec"]["predictor"]["model"]["storageUri"] = "oci+magic://reg.io/m@" + kDigest;
  auto unknown = MutateModelObject("InferenceService", isvc, nullptr, DefaultInjectConfig());
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->denied);
  EXPECT_NE(unknown->message.find("unknown OCI scheme oci+magic://"), std::string::npos);
  EXPECT_EQ(MutateModelObject("InferenceService", json::array(), nullptr, DefaultInjectConfig())
                .status()
                .code(),
            Code::kInvalidArgument);
}

json Review(const json& object, const std::string& operation, const std::string& kind) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "u-1"},
            {"kind", {{"group", "serving.kserve.io"}, {"version", "v1beta1"}, {"kind", kind}}},
            {"operation", operation},
            {"object", object}}}};
}

TEST(ModelObjectTest, AdmissionReviewsOfModelObjects) {
  std::vector<std::string> asked;
  InjectConfig c = WithPolicy(DigestPolicy::kResolve);
  AdmissionAnswer a = HandleAdmissionReview(Review(Isvc(), "CREATE", "InferenceService").dump(), c,
                                            Resolver(&asked));
  ASSERT_EQ(a.outcome, AdmissionOutcome::kPatched) << a.body;
  json out = json::parse(a.body)["response"];
  json patched = Isvc().patch(json::parse(Base64Decode(out["patch"].get<std::string>()).value()));
  EXPECT_EQ(patched["spec"]["predictor"]["model"]["storageUri"], "oci://reg.io/m@" + kDigest);

  EXPECT_EQ(HandleAdmissionReview(Review(Isvc(), "DELETE", "InferenceService").dump(), c).outcome,
            AdmissionOutcome::kUnchanged);
  EXPECT_EQ(HandleAdmissionReview(Review(Isvc(), "CREATE", "TrainedModel").dump(), c).outcome,
            AdmissionOutcome::kUnchanged);
  json missing = Review(Isvc(), "CREATE", "InferenceService");
  missing["request"].erase("object");
  AdmissionAnswer m = HandleAdmissionReview(missing.dump(), c);
  EXPECT_EQ(m.outcome, AdmissionOutcome::kDenied);
  EXPECT_NE(m.body.find("not a InferenceService"), std::string::npos) << m.body;
  // UPDATE with the stored object: nothing to look up.
  json update = Review(Isvc(), "UPDATE", "InferenceService");
  update["request"]["oldObject"] = Isvc();
  asked.clear();
  EXPECT_EQ(HandleAdmissionReview(update.dump(), c, Resolver(&asked)).outcome,
            AdmissionOutcome::kUnchanged);
  EXPECT_TRUE(asked.empty());
}

// Every node of the sample objects replaced by values of other types: errors or denials, never a
// throw out of the entry points.
TEST(ModelObjectTest, WrongTypesNeverThrow) {
  const json replacements[] = {5, "x", json::array(), nullptr, json::object(), json::array({1})};
  int calls = 0;
  for (const auto& [kind, object] :
       {std::pair<std::string, json>{"InferenceService", Isvc()}, {"LLMInferenceService", Llm()}}) {
    std::vector<json::json_pointer> pointers;
    const json flat = object.flatten();
    for (const auto& [path, v] : flat.items()) {
      for (json::json_pointer p(path); !p.empty(); p = p.parent_pointer()) pointers.push_back(p);
    }
    for (const auto& p : pointers) {
      for (const json& r : replacements) {
        json broken = object;
        broken[p] = r;
        std::vector<std::string> asked;
        InjectConfig c = WithPolicy(DigestPolicy::kResolve);
        EXPECT_NO_THROW((void)MutateModelObject(kind, broken, object, c, Resolver(&asked)))
            << p.to_string();
        json review = Review(broken, "UPDATE", kind);
        review["request"]["oldObject"] = r;
        EXPECT_NO_THROW((void)HandleAdmissionReview(review.dump(), c, Resolver(&asked)))
            << p.to_string();
        ++calls;
      }
    }
  }
  EXPECT_GT(calls, 200);
}

}  // namespace
}  // namespace modelcar::kube
