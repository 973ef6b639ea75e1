#!/usr/bin/env bash
# `modelcar webhook` over real TLS (self-signed certificate made with openssl) with real
# AdmissionReview JSON: patch correctness (applied by an independent RFC 6902 implementation, then
# checked by `modelcar smoke`), bad input, 413, plain HTTP, certificate and config reload, metrics,
# graceful SIGTERM.
source "$MODELCAR_SRC/tests/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
mc_tmpdir
cd "$MC_TMP"

make_cert() {  # make_cert CN: writes cert.pem/key.pem atomically
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=$1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout key.tmp -out cert.tmp 2>/dev/null
  mv key.tmp key.pem && mv cert.tmp cert.pem
}
served_cn() {
  openssl s_client -connect "127.0.0.1:$port" </dev/null 2>/dev/null | openssl x509 -noout -subject
}
post() {  # post FILE [PATH] -> body in out.json, status in $code
  code=$(curl -sS --cacert ca.pem -o out.json -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$1" "https://127.0.0.1:$port${2:-/mutate-pods}?timeout=10s")
}
isvc_review() {  # isvc_review STORAGE_URI OUT: an InferenceService CREATE review
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "qwen", "namespace": "models"},
        "spec": {"predictor": {"model": {"modelFormat": {"name": "modelcar"}, "storageUri": sys.argv[1]}}}}
json.dump({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
           "request": {"uid": "isvc-1", "operation": "CREATE", "namespace": "models",
                       "kind": {"group": "serving.kserve.io", "version": "v1beta1", "kind": "InferenceService"},
                       "object": isvc}}, open(sys.argv[2], "w"))
PY
}
review_with() {  # review_with PYTHON-EXPR-ON-r OUT: edits the fixture review
  /usr/bin/python3 - "$here/testdata/admission_review.json" "$2" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(r, open(sys.argv[2], "w"))
PY
}

make_cert first
cp cert.pem ca.pem
echo '{"enableModelcar": true, "uidModelcar": 1010}' > config.json
port=$(mc_free_port)
"$MODELCAR_BIN" webhook --host 127.0.0.1 --port "$port" --tls-cert cert.pem --tls-key key.pem \
  --config config.json --max-body-bytes 1048576 2> webhook.log &
pid=$!
MC_CLEANUP+=("kill $pid 2>/dev/null")
for i in $(seq 1 100); do
  curl -sf --cacert ca.pem "https://127.0.0.1:$port/readyz" >/dev/null && break
  kill -0 $pid 2>/dev/null || { cat webhook.log; mc_fail "webhook exited"; }
  sleep 0.1
done
[ "$(curl -sS --cacert ca.pem "https://127.0.0.1:$port/healthz")" = ok ] || mc_fail "healthz"

# 1. A real AdmissionReview: the patch applied to the object passes every smoke check.
post "$here/testdata/admission_review.json"
[ "$code" = 200 ] || mc_fail "mutate answered $code: $(cat out.json)"
/usr/bin/python3 "$here/jsonpatch.py" "$here/testdata/admission_review.json" out.json > patched.json
"$MODELCAR_BIN" smoke -f patched.json > smoke.txt || { cat smoke.txt; mc_fail "smoke failed on the patched pod"; }
grep -q 'PASS link-targets-mnt-models' smoke.txt || mc_fail "smoke output"
/usr/bin/python3 - patched.json <<'PY' || mc_fail "patched pod lost or changed fields"
import json, sys
p = json.load(open(sys.argv[1]))
c = p["spec"]["containers"][0]
assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsUser": 1010}, c
assert c["resources"]["limits"]["memory"] == "4Gi"
assert p["spec"]["tolerations"][0]["tolerationSeconds"] == 300
assert p["metadata"]["ownerReferences"][0]["controller"] is True
assert p["spec"]["volumes"][0]["name"] == "kube-api-access-x7k2p"
assert p["spec"]["volumes"][1] == {"name": "kserve-provision-location", "emptyDir": {}}
assert [x["name"] for x in p["spec"]["containers"]] == ["kserve-container", "modelcar"]
PY
# Idempotent: the patched pod reviewed again needs no patch.
review_with 'r["request"]["object"] = json.load(open("patched.json"))' again.json
post again.json
/usr/bin/python3 -c 'import json,sys; r=json.load(open("out.json"))["response"]; assert r["allowed"] and "patch" not in r, r' \
  || mc_fail "second pass was not a no-op"

# InferenceService objects on /mutate-models: a tag under "allow" passes with a warning, no patch;
# hostile field types are answered, not crashed on.
isvc_review "oci://registry.example.com/models/qwen:v1" isvc.json
post isvc.json /mutate-models
/usr/bin/python3 -c '
import json; r = json.load(open("out.json"))["response"]
assert r["allowed"] and "patch" not in r and "not pinned" in r["warnings"][0], r' \
  || mc_fail "InferenceService review: $(cat out.json)"
review_with 'r["request"]["kind"] = {"group": "serving.kserve.io", "version": "v1beta1", "kind": "InferenceService"}; r["request"]["object"]["spec"] = {"predictor": {"model": 5, "storageUris": [7, {"uri": ["x"]}], "containers": [{"env": [{"name": "STORAGE_URI", "value": {}}]}]}}' hostile.json
post hostile.json /mutate-models
[ "$code" = 200 ] || mc_fail "hostile InferenceService answered $code: $(cat out.json)"

# 2. Bad input: 400s, denial with the reason, non-Pod allowed unchanged, oversized body 413.
printf '{"kind": "AdmissionReview", ' > malformed.json
post malformed.json; [ "$code" = 400 ] || mc_fail "malformed JSON answered $code"
review_with 'r["apiVersion"] = "admission.k8s.io/v1beta1"' v1beta1.json
post v1beta1.json; [ "$code" = 400 ] || mc_fail "v1beta1 answered $code"
review_with 'r["kind"] = "Pod"' wrongkind.json
post wrongkind.json; [ "$code" = 400 ] || mc_fail "wrong kind answered $code"
review_with 'del r["request"]["uid"]' nouid.json
post nouid.json; [ "$code" = 400 ] || mc_fail "missing uid answered $code"
review_with 'r["request"]["kind"] = {"group": "apps", "version": "v1", "kind": "Deployment"}' deploy.json
post deploy.json
/usr/bin/python3 -c 'import json; r=json.load(open("out.json"))["response"]; assert r["allowed"] and "patch" not in r, r' \
  || mc_fail "non-Pod object was not allowed unchanged"
review_with 'r["request"]["object"]["metadata"]["annotations"]["internal.serving.kserve.io/storage-initializer-sourceuri"] = "oci://Registry.Example.com/BAD REF"' badref.json
post badref.json
/usr/bin/python3 -c '
import json; r = json.load(open("out.json"))["response"]
assert r["allowed"] is False and r["uid"] == "0df28fbd-5f5f-4b35-ae4b-7d4c8f1c29a1", r
assert "BAD REF" in r["status"]["message"], r' || mc_fail "bad ref was not denied with its reason"
head -c 2000000 /dev/zero | tr '\0' ' ' > big.json
post big.json; [ "$code" = 413 ] || mc_fail "oversized body answered $code"
plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz" || true)
[ "$plain" != 200 ] || mc_fail "plain HTTP was served"
kill -0 $pid || mc_fail "webhook died on bad input"
[ "$(curl -sS --cacert ca.pem "https://127.0.0.1:$port/healthz")" = ok ] || mc_fail "healthz after bad input"

# 3. Config reload: digestPolicy require now denies a tag.
echo '{"enableModelcar": true, "digestPolicy": "require"}' > config.tmp && mv config.tmp config.json
review_with 'r["request"]["object"]["metadata"]["annotations"]["internal.serving.kserve.io/storage-initializer-sourceuri"] = "oci://registry.example.com/models/qwen:latest"' tag.json
denied=no
for i in $(seq 1 50); do
  post tag.json
  if /usr/bin/python3 -c 'import json,sys; r=json.load(open("out.json"))["response"]; sys.exit(0 if r["allowed"] is False and "not pinned" in r["status"]["message"] else 1)'; then
    denied=yes; break
  fi
  sleep 0.1
done
[ $denied = yes ] || mc_fail "config reload: tag not denied: $(cat out.json)"
post isvc.json /mutate-models
/usr/bin/python3 -c '
import json; r = json.load(open("out.json"))["response"]
assert r["allowed"] is False and "/spec/predictor/model/storageUri" in r["status"]["message"], r' \
  || mc_fail "InferenceService with a tag not denied under require: $(cat out.json)"

# 4. Certificate rotation: the new certificate is served without a restart.
served_cn | mc_contains 'CN *= *first' || mc_fail "first certificate not served"
make_cert second
rotated=no
for i in $(seq 1 50); do
  if served_cn | mc_contains 'CN *= *second'; then rotated=yes; break; fi
  sleep 0.1
done
[ $rotated = yes ] || mc_fail "certificate was not reloaded"

# 5. Metrics, then a graceful SIGTERM.
curl -sS -k "https://127.0.0.1:$port/metrics" > metrics.txt
grep -Eq 'modelcar_webhook_requests_total\{outcome="patched"\} [1-9]' metrics.txt || { cat metrics.txt; mc_fail "metrics: patched"; }
# 413 never reaches the handler: 4 bad requests.
grep -q 'modelcar_webhook_requests_total{outcome="bad_request"} 4' metrics.txt || { cat metrics.txt; mc_fail "metrics: bad_request"; }
grep -q 'modelcar_webhook_tls_loads_total 2' metrics.txt || { cat metrics.txt; mc_fail "metrics: tls loads"; }
grep -q 'modelcar_webhook_config_loads_total 2' metrics.txt || { cat metrics.txt; mc_fail "metrics: config loads"; }
kill -TERM $pid
rc=0; wait $pid || rc=$?
[ $rc = 0 ] || { cat webhook.log; mc_fail "webhook exited $rc on SIGTERM"; }
grep -q draining webhook.log || mc_fail "no drain message"

# 6. Refuses to start without TLS files or with a bad config.
mc_expect_fail "$MODELCAR_BIN" webhook --port 0 --tls-cert missing.pem --tls-key key.pem
echo '{"cpuModelcar": "lots"}' > bad.json
mc_expect_fail "$MODELCAR_BIN" webhook --port 0 --tls-cert cert.pem --tls-key key.pem --config bad.json
echo "$MC_ERR" | mc_contains cpuModelcar || mc_fail "bad config error does not name the field: $MC_ERR"
echo "PASS webhook_test"
