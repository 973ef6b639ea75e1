#!/usr/bin/python3
"""modelcar's webhook next to KServe v0.20's, through the API server's mutating admission.

Usage: coexist.py --ca CA.pem --webhook MODE=PORT... --registry HOST:PORT --digest sha256:...
                  --bin MODELCAR --src REPO [--write-table FILE]

The modelcar webhooks are real `modelcar webhook` processes (HTTPS, digestPolicy resolve against a
real registry, one per ociModelMode); KServe's webhook and controller, and the API server, are the
stand-ins of kserve_v020.py and apiserver.py. For every ociModelMode x KServe's OCI support (off,
modelcar, native) x order of the two webhooks, the predictor pod KServe's controller makes for
`storageUri: oci://REGISTRY/models/tiny:v1` (a tag) goes through admission, and the final pod must
be: admitted; pinned (the tag appears nowhere); delivering the model by exactly one mechanism, the
mode's; structurally valid; passing `modelcar smoke` (modelcar mode); a fixed point of both
webhooks. The two orders must agree but for the pod-level settings KServe's modelcar injection
leaves behind. Then the model objects: InferenceService (storageUri, storageUris, STORAGE_URI) and
LLMInferenceService come back pinned from modelcar's object webhook, and the pod KServe's
controller builds from a pinned InferenceService is admitted unchanged by KServe's webhook.

The matrix is printed as the Markdown table of docs/kserve.md; the test fails when the table there
differs (between the coexistence-matrix markers).
"""
import argparse
import base64
import copy
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request
import uuid

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import apiserver  # noqa: E402
import jsonpatch  # noqa: E402
import kserve_v020 as kserve  # noqa: E402

MODES = ["modelcar", "native", "fetch", "cache"]
KSERVE_STATES = {
    "off": dict(kserve.SHIPPED_CONFIG, enableModelcar=False),
    "modelcar": dict(kserve.SHIPPED_CONFIG),
    "native": dict(kserve.SHIPPED_CONFIG, ociModelMode="native"),
}
KSERVE_STATE_TEXT = {
    "off": "off (`enableModelcar: false`)",
    "modelcar": "on, modelcar (v0.20 default)",
    "native": "on, `ociModelMode: native`",
}
# Left by KServe's modelcar injection when it ran first and modelcar's mode is another: these
# pod-level settings cannot be told apart from the user's, so modelcar leaves them.
LEFTOVERS = {
    "shareProcessNamespace": "shareProcessNamespace",
    "runAsUser": "runAsUser 1010",
    "MODEL_INIT_MODE": "MODEL_INIT_MODE=async",
}
RUNTIME = {"name": "kserve-container", "image": "ghcr.io/modelcar/modelcar:0.1.0",
           "args": ["serve", "/mnt/models", "--port=8080"]}

failures = []


def check(ok, what):
    print(("PASS " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
    return ok


class ModelcarWebhook:
    """A running `modelcar webhook`, called as the API server calls it."""

    def __init__(self, port, ca):
        self.url = "https://127.0.0.1:%d/mutate-pods" % port
        self.ctx = ssl.create_default_context(cafile=ca)

    def review(self, obj, operation="CREATE", old=None):
        kind = obj.get("kind", "Pod")
        group, version = ("", "v1") if kind == "Pod" else tuple(obj["apiVersion"].split("/"))
        req = {"uid": str(uuid.uuid4()), "operation": operation, "namespace": "models",
               "kind": {"group": group, "version": version, "kind": kind}, "object": obj}
        if old is not None:
            req["oldObject"] = old
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "request": req}).encode()
        r = urllib.request.Request(self.url, data=body,
                                   headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(r, context=self.ctx, timeout=10) as resp:
            answer = json.load(resp)
        response = answer["response"]
        assert response["uid"] == req["uid"], response
        if not response["allowed"]:
            raise apiserver.Rejected("modelcar", response["status"]["message"])
        if "patch" not in response:
            return obj
        ops = json.loads(base64.b64decode(response["patch"]))
        return jsonpatch.apply(copy.deepcopy(obj), ops)


def shipped_configuration(src):
    with open(os.path.join(src, "deploy/webhook/mutatingwebhookconfiguration.yaml")) as f:
        return yaml.safe_load(f)


def is_predictor_pod(obj):
    return obj.get("kind", "Pod") == "Pod" and \
        kserve.ISVC_LABEL in obj.get("metadata", {}).get("labels", {})


def modelcar_hooks(config, webhook, configuration_name=None):
    """The shipped MutatingWebhookConfiguration's webhooks, calling `webhook`."""
    hooks = []
    for w in config["webhooks"]:
        resources = {r for rule in w["rules"] for r in rule["resources"]}
        if "pods" in resources:
            matches = is_predictor_pod
        else:
            kinds = {"inferenceservices": "InferenceService",
                     "llminferenceservices": "LLMInferenceService",
                     "llminferenceserviceconfigs": "LLMInferenceServiceConfig"}
            wanted = {kinds[r] for r in resources if r in kinds}
            matches = lambda o, wanted=wanted: o.get("kind") in wanted  # noqa: E731
        hooks.append(apiserver.Webhook(configuration_name or config["metadata"]["name"],
                                       w["name"], webhook.review,
                                       w.get("reinvocationPolicy", "Never"), matches))
    return hooks


def kserve_hook(cfg):
    return apiserver.Webhook(kserve.CONFIGURATION_NAME, kserve.WEBHOOK_NAME,
                             lambda pod: pod_webhook_or_reject(pod, cfg), kserve.REINVOCATION,
                             is_predictor_pod)


def pod_webhook_or_reject(pod, cfg):
    try:
        return kserve.pod_webhook(pod, cfg)
    except kserve.KServeError as e:  # HTTP 500 + failurePolicy Fail
        raise apiserver.Rejected(kserve.WEBHOOK_NAME, str(e))


def all_containers(spec):
    return (spec.get("containers") or []) + (spec.get("initContainers") or [])


def structural_problems(pod):
    spec = pod["spec"]
    problems = []
    names = [c["name"] for c in all_containers(spec)]
    if len(names) != len(set(names)):
        problems.append("duplicate container names %s" % names)
    vols = [v["name"] for v in spec.get("volumes") or []]
    if len(vols) != len(set(vols)):
        problems.append("duplicate volumes %s" % vols)
    for c in all_containers(spec):
        paths = [m["mountPath"] for m in c.get("volumeMounts") or []]
        if len(paths) != len(set(paths)):
            problems.append("%s mounts two volumes at one path" % c["name"])
        for m in c.get("volumeMounts") or []:
            if m["name"] not in vols:
                problems.append("%s mounts missing volume %s" % (c["name"], m["name"]))
    return problems


def command_line(c):
    return json.dumps((c.get("command") or []) + (c.get("args") or []))


def deliveries(pod, image):
    """How the model image reaches the pod."""
    spec = pod["spec"]
    out = set()
    if any(c.get("image") == image for c in all_containers(spec)):
        out.add("modelcar")
    if any((v.get("image") or {}).get("reference") == image for v in spec.get("volumes") or []):
        out.add("native")
    for name, mode in (("modelcar-fetch", "fetch"), ("modelcar-cache", "cache")):
        c = kserve.find(spec, name, "initContainers")
        if c and image in command_line(c):
            out.add(mode)
    if kserve.find(spec, "storage-initializer", "initContainers"):
        out.add("storage-initializer")
    return out


def sees_model(pod, mode, binary):
    """The serving container gets the model at /mnt/models the way `mode` delivers it."""
    spec = pod["spec"]
    target = kserve.find(spec, "kserve-container")
    mounts = {m["mountPath"]: m for m in target.get("volumeMounts") or []}
    if mode == "modelcar":
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(pod, f)
            f.flush()
            p = subprocess.run([binary, "smoke", "-f", f.name], capture_output=True, text=True)
        return p.returncode == 0
    if mode == "native":
        m = mounts.get("/mnt/models")
        return bool(m) and m.get("subPath") == "models" and m.get("readOnly") is True
    init = kserve.find(spec, "modelcar-" + mode, "initContainers")
    shared = mounts.get("/mnt")
    return bool(init and shared) and \
        any(im["name"] == shared["name"] and im["mountPath"] == "/mnt"
            for im in init.get("volumeMounts") or []) and "/mnt/models" in command_line(init)


def leftovers(reversed_pod, shipped_pod):
    """Names of the KServe settings found only in `reversed_pod`; the rest must be equal."""
    a, b = copy.deepcopy(reversed_pod), shipped_pod
    found = []
    if a["spec"].get("shareProcessNamespace") and not b["spec"].get("shareProcessNamespace"):
        del a["spec"]["shareProcessNamespace"]
        found.append("shareProcessNamespace")
    ta, tb = kserve.find(a["spec"], "kserve-container"), kserve.find(b["spec"], "kserve-container")
    if "runAsUser" in ta.get("securityContext", {}) and \
            "runAsUser" not in tb.get("securityContext", {}):
        del ta["securityContext"]["runAsUser"]
        if not ta["securityContext"]:
            del ta["securityContext"]
        found.append("runAsUser")
    env = [e for e in ta.get("env") or [] if e["name"] != "MODEL_INIT_MODE"]
    if len(env) != len(ta.get("env") or []) and \
            not any(e["name"] == "MODEL_INIT_MODE" for e in tb.get("env") or []):
        if env:
            ta["env"] = env
        else:
            del ta["env"]
        found.append("MODEL_INIT_MODE")
    return found, a == b


def run_cell(mode, state, shipped_first, webhooks, config, args, base_pod):
    m = webhooks[mode]
    name = None if shipped_first else "modelcar-pod-mutator"  # sorts after KServe's
    hooks = modelcar_hooks(config, m, name) + [kserve_hook(KSERVE_STATES[state])]
    try:
        pod, calls = apiserver.admit(base_pod, hooks)
    except apiserver.Rejected as e:
        return None, [], str(e)
    return pod, calls, None


def matrix(webhooks, config, args):
    image = "%s/models/tiny@%s" % (args.registry, args.digest)
    tag = "%s/models/tiny:v1" % args.registry
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "qwen", "namespace": "models"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "modelcar"},
                                             "storageUri": "oci://" + tag}}}}
    base_pod = kserve.predictor_pod(isvc, RUNTIME)
    rows = []
    for mode in MODES:
        for state in KSERVE_STATES:
            kserve_alone = kserve.pod_webhook(base_pod, KSERVE_STATES[state])
            injected = deliveries(kserve_alone, tag)
            results = {}
            for shipped_first in (True, False):
                cell = "%s / KServe %s / %s first" % (mode, state,
                                                      "modelcar" if shipped_first else "KServe")
                pod, calls, rejected = run_cell(mode, state, shipped_first, webhooks, config, args,
                                                base_pod)
                if not check(rejected is None, cell + ": admitted" + (
                        "" if rejected is None else " (" + rejected + ")")):
                    results[shipped_first] = None
                    continue
                text = json.dumps(pod)
                check(tag not in text and image in text, cell + ": pinned, no tag left")
                got = deliveries(pod, image)
                check(got == {mode}, cell + ": model delivered by %s only (got %s)" % (mode, got))
                problems = structural_problems(pod)
                check(not problems, cell + ": valid pod " + "; ".join(problems))
                check(sees_model(pod, mode, args.bin), cell + ": kserve-container sees /mnt/models")
                again_m = webhooks[mode].review(pod)
                again_k = pod_webhook_or_reject(pod, KSERVE_STATES[state])
                check(again_m == pod and again_k == pod, cell + ": fixed point of both webhooks")
                check(max(r for r, _, _ in calls) <= 1, cell + ": at most one reinvocation round")
                results[shipped_first] = pod
            first, second = results.get(True), results.get(False)
            left = []
            if first is not None and second is not None:
                left, equal = leftovers(second, first)
                check(equal, "%s / KServe %s: both orders give the same pod%s%s" % (
                    mode, state, " but for " + ", ".join(left) if left else "",
                    "" if equal else "\n  modelcar first: %s\n  KServe first:   %s" % (
                        json.dumps(first["spec"], sort_keys=True),
                        json.dumps(second["spec"], sort_keys=True))))
                if mode == "modelcar":
                    check(not left, "%s / KServe %s: no leftovers in modelcar mode" % (mode, state))
            rows.append((mode, state, injected, first is not None, second is not None, left))
    return rows


def delivery_text(mode):
    return {"modelcar": "sidecar `modelcar` + `modelcar-init`",
            "native": "image volume `mnt-models`",
            "fetch": "init container `modelcar-fetch`",
            "cache": "init container `modelcar-cache`"}[mode]


def table(rows):
    out = ["| modelcar mode | KServe's OCI support | final pod (both orders) | "
           "modelcar's webhook first (shipped) | KServe's webhook first |",
           "| --- | --- | --- | --- | --- |"]
    for mode, state, injected, ok1, ok2, left in rows:
        what = {"storage-initializer": "its storage-initializer (fails on oci://)",
                "modelcar": "its modelcar sidecar of the tag",
                "native": "its image volume of the tag"}
        kserve_did = ", ".join(what[k] for k in sorted(injected))
        if not ok1 or not ok2:
            first = second = "**rejected**"
        else:
            first = "KServe injects nothing (no trigger annotation left)"
            if mode == "modelcar" and injected == {"modelcar"}:
                second = "KServe injects %s; modelcar pins it in place" % kserve_did
            else:
                second = "KServe injects %s; modelcar replaces it" % kserve_did
            if left:
                second += "; KServe's %s stay" % ", ".join(LEFTOVERS[k] for k in left)
        out.append("| %s | %s | %s, pinned to the digest | %s | %s |" % (
            mode, KSERVE_STATE_TEXT[state], delivery_text(mode), first, second))
    return "\n".join(out) + "\n"


def model_objects(webhooks, config, args):
    m = webhooks["modelcar"]
    hooks = modelcar_hooks(config, m)
    tag = "oci://%s/models/tiny:v1" % args.registry
    pinned = "oci://%s/models/tiny@%s" % (args.registry, args.digest)
    cases = [
        ("InferenceService storageUri",
         {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
          "metadata": {"name": "a", "namespace": "models"},
          "spec": {"predictor": {"model": {"modelFormat": {"name": "modelcar"},
                                           "storageUri": tag}}}},
         "/spec/predictor/model/storageUri"),
        ("InferenceService storageUris",
         {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
          "metadata": {"name": "b", "namespace": "models"},
          "spec": {"predictor": {"storageUris": [{"uri": tag, "mountPath": "/mnt/models"}],
                                 "model": {"modelFormat": {"name": "modelcar"}}}}},
         "/spec/predictor/storageUris/0/uri"),
        ("InferenceService STORAGE_URI env",
         {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
          "metadata": {"name": "c", "namespace": "models"},
          "spec": {"predictor": {"containers": [
              {"name": "kserve-container", "image": "rt:1",
               "env": [{"name": "STORAGE_URI", "value": tag}]}]}}},
         "/spec/predictor/containers/0/env/0/value"),
        ("LLMInferenceService model.uri",
         {"apiVersion": "serving.kserve.io/v1alpha2", "kind": "LLMInferenceService",
          "metadata": {"name": "d", "namespace": "models"},
          "spec": {"model": {"uri": tag, "name": "qwen"}}},
         "/spec/model/uri"),
    ]
    for what, obj, pointer in cases:
        try:
            out, _ = apiserver.admit(obj, hooks)
        except apiserver.Rejected as e:
            check(False, what + ": admitted (" + str(e) + ")")
            continue
        node = out
        for part in pointer.strip("/").split("/"):
            node = node[int(part)] if isinstance(node, list) else node[part]
        check(node == pinned, "%s pinned at admission (%s)" % (what, node))
        if what == "InferenceService storageUri":
            pod = kserve.predictor_pod(out, RUNTIME)
            final, calls = apiserver.admit(pod, hooks + [kserve_hook(kserve.SHIPPED_CONFIG)])
            kserve_changes = [c for _, name, c in calls if name == kserve.WEBHOOK_NAME and c]
            check(not kserve_changes and deliveries(final, pinned[len("oci://"):]) == {"modelcar"},
                  "pod of the pinned InferenceService: modelcar injects, KServe's webhook changes "
                  "nothing")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ca", required=True)
    ap.add_argument("--webhook", action="append", required=True, help="MODE=PORT")
    ap.add_argument("--registry", required=True)
    ap.add_argument("--digest", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--write-table")
    args = ap.parse_args()
    webhooks = {}
    for w in args.webhook:
        mode, port = w.split("=")
        webhooks[mode] = ModelcarWebhook(int(port), args.ca)
    config = shipped_configuration(args.src)
    rows = matrix(webhooks, config, args)
    model_objects(webhooks, config, args)
    got = table(rows)
    print(got)
    if args.write_table:
        with open(args.write_table, "w") as f:
            f.write(got)
    docs = open(os.path.join(args.src, "docs/kserve.md")).read()
    begin, end = "<!-- coexistence-matrix:begin -->\n", "<!-- coexistence-matrix:end -->"
    have = docs.split(begin, 1)[1].split(end, 1)[0] if begin in docs else ""
    check(have == got, "docs/kserve.md carries this matrix")
    if failures:
        print("%d checks failed" % len(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
