#!/usr/bin/env bash
# deploy/: every kustomization renders with `kubectl kustomize`; the rendered objects survive a
# round trip through kubectl's typed objects without dropped fields; the self-signed overlay's
# script makes a CA whose bundle lands in the webhook configuration; the webhook ConfigMap is a
# config modelcar accepts; the example InferenceService injects to a pod that passes smoke.
# No cluster here: kubectl runs client-side only.
source "$MODELCAR_SRC/tests/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
deploy=$MODELCAR_SRC/deploy
mc_tmpdir
cd "$MC_TMP"

n=0
while read -r k; do
  dir=$(dirname "$k")
  case "$dir" in */overlays/self-signed) continue ;; esac
  out=render-$n.yaml
  kubectl kustomize "$dir" > "$out" 2> err.txt || { cat err.txt; mc_fail "kubectl kustomize $dir"; }
  [ -s "$out" ] || mc_fail "$dir rendered nothing"
  /usr/bin/python3 "$here/roundtrip.py" "$out" > rt.txt || { cat rt.txt; mc_fail "round trip of $dir"; }
  echo "rendered and round-tripped $dir ($(grep -c PASS rt.txt) objects)"
  n=$((n + 1))
done < <(find "$deploy" -name kustomization.yaml | sort)
[ $n -ge 7 ] || mc_fail "only $n kustomizations found"

# Self-signed overlay: run its script on a copy, then render.
cp -r "$deploy" deploy-copy
bash deploy-copy/overlays/self-signed/gen-certs.sh > /dev/null
kubectl kustomize deploy-copy/overlays/self-signed > self-signed.yaml
/usr/bin/python3 - self-signed.yaml deploy-copy/overlays/self-signed/ca.crt <<'PY' || mc_fail "self-signed overlay"
import base64, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
ca = open(sys.argv[2], "rb").read()
mwc = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"][0]
assert [w["name"] for w in mwc["webhooks"]] == ["pods.modelcar.dev", "models.modelcar.dev"], mwc
for w in mwc["webhooks"]:
    assert base64.b64decode(w["clientConfig"]["caBundle"]) == ca, "caBundle is not ca.crt"
# The API server calls mutating webhooks by configuration name: modelcar's must come first.
assert mwc["metadata"]["name"] < "inferenceservice.serving.kserve.io", mwc["metadata"]["name"]
sec = [d for d in docs if d["kind"] == "Secret"][0]
assert sec["metadata"]["name"] == "modelcar-webhook-tls" and sec["type"] == "kubernetes.io/tls"
assert sec["metadata"]["namespace"] == "modelcar-system"
PY
openssl verify -CAfile deploy-copy/overlays/self-signed/ca.crt deploy-copy/overlays/self-signed/tls.crt > /dev/null \
  || mc_fail "serving certificate does not verify against the CA"
openssl x509 -in deploy-copy/overlays/self-signed/tls.crt -noout -ext subjectAltName \
  | mc_contains 'DNS:modelcar-webhook.modelcar-system.svc' || mc_fail "SAN"
/usr/bin/python3 "$here/roundtrip.py" self-signed.yaml > rt.txt || { cat rt.txt; mc_fail "round trip self-signed"; }

# The MutatingWebhookConfiguration says what the issue requires.
kubectl kustomize "$deploy/overlays/cert-manager" > cm.yaml
/usr/bin/python3 - cm.yaml <<'PY' || mc_fail "webhook configuration fields"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
w = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"][0]["webhooks"][0]
assert w["failurePolicy"] == "Fail" and w["sideEffects"] == "None"
assert w["reinvocationPolicy"] == "IfNeeded" and w["timeoutSeconds"] <= 10
assert w["objectSelector"]["matchExpressions"][0]["key"] == "serving.kserve.io/inferenceservice"
assert w["admissionReviewVersions"] == ["v1"] and w["clientConfig"]["service"]["path"] == "/mutate-pods"
cm = [d for d in docs if d["kind"] == "ConfigMap"][0]
open("webhook-config.json", "w").write(cm["data"]["storageInitializer"])
open("webhook-configmap.yaml", "w").write(yaml.safe_dump(cm))
PY

# The shipped config and the example InferenceService: inject + smoke, as the runbook says.
kubectl kustomize "$deploy/runtime" > runtime.yaml
kubectl kustomize "$deploy/examples/qwen-oci" > isvc.yaml
for cfg in webhook-config.json webhook-configmap.yaml; do
  "$MODELCAR_BIN" inject -f isvc.yaml --serving-runtime runtime.yaml --config "$cfg" > pod.yaml \
    || mc_fail "inject with $cfg"
  "$MODELCAR_BIN" smoke -f pod.yaml > smoke.txt || { cat smoke.txt; mc_fail "smoke with $cfg"; }
done
/usr/bin/python3 "$here/roundtrip.py" pod.yaml > rt.txt || { cat rt.txt; mc_fail "injected pod round trip"; }
grep -q -- '--served-model-name=qwen2.5-0.5b-instruct' pod.yaml || mc_fail "served model name"
echo "PASS deploy_test"
