// HandleAdmissionReview: reviews in, AdmissionReview responses out; the patch is applied back with
// nlohmann's RFC 6902 implementation to check it reproduces Mutate's result.
#include "kube/admission.h"

#include <gtest/gtest.h>

#include "base/base64.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

json PodObject(const std::string& uri) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"generateName", "qwen-predictor-"},
            {"labels", {{"serving.kserve.io/inferenceservice", "qwen"}}},
            {"annotations", {{kSourceUriAnnotation, uri}}}}},
          {"spec",
           {{"containers", json::array({{{"name", "kserve-container"},
                                         {"image", "rt:1"},
                                         {"resources", {{"limits", {{"cpu", 2}}}}}}})},
            {"priority", 0}}}};
}

json Review(const json& object, const std::string& uid = "705ab4f5-6393-11e8-b7cc-42010a800002") {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", uid},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"namespace", "models"},
            {"operation", "CREATE"},
            {"userInfo", {{"username", "system:serviceaccount:kserve:controller"}}},
            {"object", object},
            {"dryRun", false}}}};
}

TEST(AdmissionTest, PatchReproducesMutate) {
  json pod = PodObject("oci://reg.io/m@sha256:" + std::string(64, 'c'));
  AdmissionAnswer a = HandleAdmissionReview(Review(pod).dump(), DefaultInjectConfig());
  ASSERT_EQ(a.http_status, 200);
  ASSERT_EQ(a.outcome, AdmissionOutcome::kPatched);
  json out = json::parse(a.body);
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(out["kind"], "AdmissionReview");
  EXPECT_EQ(out["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_EQ(out["response"]["patchType"], "JSONPatch");
  json patch = json::parse(Base64Decode(out["response"]["patch"].get<std::string>()).value());
  ASSERT_TRUE(patch.is_array());
  for (const json& op : patch) {  // never touches what modelcar does not own
    EXPECT_NE(op["path"], "/spec/containers/0/resources") << op;
    EXPECT_NE(op["path"], "/metadata") << op;
  }
  auto expected = Mutate(pod, DefaultInjectConfig());
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(pod.patch(patch), expected->pod);
}

TEST(AdmissionTest, UnchangedCases) {
  json pod = PodObject("oci://reg.io/m:v1");
  json no_label = pod;
  no_label["metadata"].erase("labels");
  json not_pod = Review(pod);
  not_pod["request"]["kind"]["kind"] = "Deployment";
  not_pod["request"]["kind"]["group"] = "apps";
  json update = Review(pod);
  update["request"]["operation"] = "UPDATE";
  json s3 = PodObject("s3://bucket/m");
  for (const json& review : {Review(no_label), not_pod, update, Review(s3)}) {
    AdmissionAnswer a = HandleAdmissionReview(review.dump(), DefaultInjectConfig());
    EXPECT_EQ(a.http_status, 200);
    EXPECT_EQ(a.outcome, AdmissionOutcome::kUnchanged);
    json out = json::parse(a.body);
    EXPECT_EQ(out["response"]["allowed"], true);
    EXPECT_FALSE(out["response"].contains("patch"));
    EXPECT_EQ(out["response"]["uid"], review["request"]["uid"]);
  }
}

TEST(AdmissionTest, BadRequests) {
  json good = Review(PodObject("oci://reg.io/m:v1"));
  json v1beta1 = good;
  v1beta1["apiVersion"] = "admission.k8s.io/v1beta1";
  json wrong_kind = good;
  wrong_kind["kind"] = "Pod";
  json no_uid = good;
  no_uid["request"].erase("uid");
  json no_request = good;
  no_request.erase("request");
  for (const std::string& body :
       {std::string("{not json"), std::string("[]"), v1beta1.dump(), wrong_kind.dump(),
        no_uid.dump(), no_request.dump(), std::string("")}) {
    AdmissionAnswer a = HandleAdmissionReview(body, DefaultInjectConfig());
    EXPECT_EQ(a.http_status, 400) << body;
    EXPECT_EQ(a.outcome, AdmissionOutcome::kBadRequest);
    EXPECT_NE(a.body.find("bad AdmissionReview"), std::string::npos);
  }
}

// With failurePolicy Fail a webhook crash blocks every pod creation: a pod nested 100,000 deep (in
// a field and in the extra-sources annotation Mutate parses) is a 400, and a pod at the depth limit
// goes through Mutate's copies and the diff.
TEST(AdmissionTest, DeepNestingIsABadRequestNotACrash) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string review = Review(PodObject("oci://reg.io/m:v1")).dump();
  std::string in_spec = review;
  in_spec.insert(in_spec.find("\"priority\""), "\"x\":" + deep + ",");
  AdmissionAnswer a = HandleAdmissionReview(in_spec, DefaultInjectConfig());
  EXPECT_EQ(a.http_status, 400);
  EXPECT_NE(a.body.find("JSON nested deeper than 64 levels"), std::string::npos) << a.body;

  json pod = PodObject("oci://reg.io/m@sha256:" + std::string(64, 'c'));
  pod["metadata"]["annotations"][kExtraUrisAnnotation] = deep;
  a = HandleAdmissionReview(Review(pod).dump(), DefaultInjectConfig());
  EXPECT_EQ(a.outcome, AdmissionOutcome::kDenied) << a.body;

  json nested = json::array();  // depth 64 in total: review, request, object, spec + 60 arrays
  for (int i = 0; i < 59; ++i) nested = json::array({nested});
  pod = PodObject("oci://reg.io/m@sha256:" + std::string(64, 'c'));
  pod["spec"]["x"] = nested;
  a = HandleAdmissionReview(Review(pod).dump(), DefaultInjectConfig());
  EXPECT_EQ(a.outcome, AdmissionOutcome::kPatched) << a.body;
  pod["spec"]["x"] = json::array({nested});
  a = HandleAdmissionReview(Review(pod).dump(), DefaultInjectConfig());
  EXPECT_EQ(a.http_status, 400);
}

TEST(AdmissionTest, TooManyValuesIsABadRequest) {
  json pod = PodObject("oci://reg.io/m:v1");
  pod["spec"]["x"] = json::array();
  for (int i = 0; i < 60000; ++i) pod["spec"]["x"].push_back(i);
  AdmissionAnswer a = HandleAdmissionReview(Review(pod).dump(), DefaultInjectConfig());
  EXPECT_EQ(a.http_status, 400);
  EXPECT_NE(a.body.find("more than 50000 values"), std::string::npos) << a.body;
}

TEST(AdmissionTest, DenialsCarryAMessage) {
  InjectConfig require = DefaultInjectConfig();
  require.digest_policy = DigestPolicy::kRequire;
  AdmissionAnswer a =
      HandleAdmissionReview(Review(PodObject("oci://reg.io/m:v1"), "u-1").dump(), require);
  EXPECT_EQ(a.http_status, 200);
  EXPECT_EQ(a.outcome, AdmissionOutcome::kDenied);
  json out = json::parse(a.body);
  EXPECT_EQ(out["response"]["uid"], "u-1");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 403);
  EXPECT_NE(out["response"]["status"]["message"].get<std::string>().find("not pinned"),
            std::string::npos);

  AdmissionAnswer bad_ref = HandleAdmissionReview(
      Review(PodObject("oci://bad ref with spaces")).dump(), DefaultInjectConfig());
  EXPECT_EQ(bad_ref.outcome, AdmissionOutcome::kDenied);

  json broken = PodObject("oci://reg.io/m:v1");
  broken["spec"]["containers"] = "nope";
  AdmissionAnswer malformed = HandleAdmissionReview(Review(broken).dump(), DefaultInjectConfig());
  EXPECT_EQ(malformed.outcome, AdmissionOutcome::kDenied);
  EXPECT_EQ(json::parse(malformed.body)["response"]["status"]["code"], 400);
}

}  // namespace
}  // namespace modelcar::kube
