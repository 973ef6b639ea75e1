// HandleAdmissionReview: validate the review, call Mutate, diff, answer.
#include "kube/admission.h"

#include "base/base64.h"
#include "base/json.h"
#include "kube/model_objects.h"

namespace modelcar::kube {
namespace {

using nlohmann::json;

AdmissionAnswer BadRequest(std::string message) {
  return {400, "bad AdmissionReview: " + message + "\n", AdmissionOutcome::kBadRequest};
}

json Review(const std::string& uid) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"response", {{"uid", uid}, {"allowed", true}}}};
}

AdmissionAnswer Answer(const json& review, AdmissionOutcome outcome) {
  return {200, review.dump(), outcome};
}

AdmissionAnswer Deny(json review, int code, const std::string& message,
                     const std::vector<std::string>& warnings) {
  json& r = review["response"];
  r["allowed"] = false;
  r["status"] = {{"code", code},
                 {"message", "modelcar: " + message},
                 {"reason", code == 403 ? "Forbidden" : "BadRequest"}};
  if (!warnings.empty()) r["warnings"] = warnings;
  return Answer(review, AdmissionOutcome::kDenied);
}

}  // namespace

std::string_view AdmissionOutcomeName(AdmissionOutcome o) {
  switch (o) {
    case AdmissionOutcome::kBadRequest:
      return "bad_request";
    case AdmissionOutcome::kUnchanged:
      return "unchanged";
    case AdmissionOutcome::kPatched:
      return "patched";
    case AdmissionOutcome::kDenied:
      return "denied";
  }
  return "?";
}

static AdmissionAnswer HandleImpl(std::string_view body, const InjectConfig& config,
                                  const DigestResolver& resolver) {
  // Bounded before anything walks it: Mutate copies the pod and diff/dump recurse per level.
  Result<json> parsed = ParseJsonLimited(body, "body", kAdmissionJsonLimits);
  if (!parsed.ok()) return BadRequest(parsed.status().message());
  json& in = *parsed;
  if (!in.is_object()) return BadRequest("body is not a JSON object");
  if (in.value("apiVersion", json()) != "admission.k8s.io/v1") {
    return BadRequest("apiVersion must be admission.k8s.io/v1");
  }
  if (in.value("kind", json()) != "AdmissionReview")
    return BadRequest("kind must be AdmissionReview");
  auto req = in.find("request");
  if (req == in.end() || !req->is_object()) return BadRequest("request is missing");
  auto uid = req->find("uid");
  if (uid == req->end() || !uid->is_string() || uid->get_ref<const std::string&>().empty()) {
    return BadRequest("request.uid is missing");
  }
  json review = Review(uid->get<std::string>());

  const json kind = req->value("kind", json::object());
  if (!kind.is_object()) return Answer(review, AdmissionOutcome::kUnchanged);
  auto text = [&kind](const char* key) {
    auto it = kind.find(key);
    return it != kind.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string group = text("group"), kind_name = text("kind");
  const json operation = req->value("operation", json("CREATE"));
  auto object = req->find("object");
  Result<MutateResult> m = MutateResult();
  if (group.empty() && kind_name == "Pod" && kind.value("version", json("v1")) == "v1") {
    if (operation != "CREATE") return Answer(review, AdmissionOutcome::kUnchanged);
    if (object == req->end() || !object->is_object()) {
      return Deny(std::move(review), 400, "request.object is missing or not a Pod", {});
    }
    const json* labels = nullptr;
    if (auto md = object->find("metadata"); md != object->end() && md->is_object()) {
      if (auto l = md->find("labels"); l != md->end() && l->is_object()) labels = &*l;
    }
    if (!labels || !labels->contains(kIsvcLabel)) {
      return Answer(review, AdmissionOutcome::kUnchanged);
    }
    const json ns = req->value("namespace", json(""));
    m = Mutate(*object, config, resolver, ns.is_string() ? ns.get<std::string>() : "");
  } else if (IsModelObjectKind(group, kind_name)) {
    if (operation != "CREATE" && operation != "UPDATE") {
      return Answer(review, AdmissionOutcome::kUnchanged);
    }
    if (object == req->end() || !object->is_object()) {
      return Deny(std::move(review), 400, "request.object is missing or not a " + kind_name, {});
    }
    const json old = operation == "UPDATE" ? req->value("oldObject", json()) : json();
    m = MutateModelObject(kind_name, *object, old, config, resolver);
  } else {
    return Answer(review, AdmissionOutcome::kUnchanged);
  }
  if (!m.ok()) return Deny(std::move(review), 400, m.status().message(), {});
  if (m->denied) return Deny(std::move(review), 403, m->message, m->warnings);
  json& response = review["response"];
  if (!m->warnings.empty()) response["warnings"] = m->warnings;
  json patch = json::diff(*object, m->pod);
  if (patch.empty()) return Answer(review, AdmissionOutcome::kUnchanged);
  response["patchType"] = "JSONPatch";
  response["patch"] = Base64Encode(patch.dump());
  return Answer(review, AdmissionOutcome::kPatched);
}

AdmissionAnswer HandleAdmissionReview(std::string_view body, const InjectConfig& config,
                                      const DigestResolver& resolver) {
  try {
    return HandleImpl(body, config, resolver);
  } catch (const json::exception& e) {  // a request field of an unexpected type
    return BadRequest(std::string("malformed field: ") + PrintableAscii(e.what()));
  }
}

}  // namespace modelcar::kube
