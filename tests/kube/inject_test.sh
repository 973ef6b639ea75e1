#!/usr/bin/env bash
# `modelcar inject` and `modelcar smoke` offline: Pod, Deployment and InferenceService inputs,
# YAML/JSON output, idempotency, exit codes, and error messages for bad input.
source "$MODELCAR_SRC/tests/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
mc_tmpdir
cd "$MC_TMP"
digest=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

cat > deploy.yaml <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: qwen-predictor, namespace: models}
spec:
  selector: {matchLabels: {app: qwen}}
  template:
    metadata:
      labels: {app: qwen, serving.kserve.io/inferenceservice: qwen}
      annotations:
        internal.serving.kserve.io/storage-initializer-sourceuri: oci://reg.example.com/m@$digest
    spec:
      containers:
      - name: kserve-container
        image: ghcr.io/modelcar/modelcar:0.1.0
        args: [serve, /mnt/models]
YAML
"$MODELCAR_BIN" inject -f deploy.yaml > pod.yaml || mc_fail "inject Deployment"
"$MODELCAR_BIN" smoke -f pod.yaml > smoke.txt || { cat smoke.txt; mc_fail "smoke"; }
[ "$(grep -c '^PASS ' smoke.txt)" = 10 ] || mc_fail "expected 10 PASS lines: $(cat smoke.txt)"
grep -q 'namespace: models' pod.yaml || mc_fail "namespace not carried over"

# Idempotent: injecting the injected pod changes nothing; JSON output is the same object.
"$MODELCAR_BIN" inject -f pod.yaml > pod2.yaml
cmp pod.yaml pod2.yaml || mc_fail "second inject changed the pod"
"$MODELCAR_BIN" inject -f pod.yaml -o json > pod.json
/usr/bin/python3 -c 'import json,yaml,sys; assert json.load(open("pod.json")) == yaml.safe_load(open("pod.yaml"))' \
  || mc_fail "json and yaml outputs differ"
cat pod.yaml | "$MODELCAR_BIN" inject -f - > pod3.yaml && cmp pod.yaml pod3.yaml || mc_fail "stdin input"

# smoke fails (exit 1) on the un-mutated pod and names what is missing.
rc=0; "$MODELCAR_BIN" smoke -f deploy.yaml > smoke.txt || rc=$?
[ $rc = 1 ] || mc_fail "smoke on an un-mutated pod exited $rc"
grep -q 'FAIL share-process-namespace' smoke.txt || mc_fail "smoke output: $(cat smoke.txt)"
# A pod whose sidecar links elsewhere fails exactly that check.
sed 's|/mnt/models \&\& sleep|/mnt/other \&\& sleep|' pod.yaml > wrong-link.yaml
rc=0; "$MODELCAR_BIN" smoke -f wrong-link.yaml > smoke.txt || rc=$?
[ $rc = 1 ] && grep -q 'FAIL link-targets-mnt-models' smoke.txt && [ "$(grep -c '^FAIL' smoke.txt)" = 1 ] \
  || mc_fail "wrong link not caught: $(cat smoke.txt)"

# InferenceService with a custom container (STORAGE_URI env) needs no runtime.
cat > custom.yaml <<YAML
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: custom}
spec:
  predictor:
    containers:
    - name: kserve-container
      image: ghcr.io/modelcar/modelcar:0.1.0
      env: [{name: STORAGE_URI, value: "oci://reg.example.com/m@$digest"}]
YAML
"$MODELCAR_BIN" inject -f custom.yaml > custom-pod.yaml || mc_fail "inject custom ISVC"
"$MODELCAR_BIN" smoke -f custom-pod.yaml > /dev/null || mc_fail "smoke custom ISVC"

# Policy denial: exit 1 with the reason; a model predictor without a runtime: exit 2.
echo '{"enableModelcar": true, "digestPolicy": "require"}' > require.json
sed "s|@$digest|:latest|" deploy.yaml > tag.yaml
mc_expect_fail "$MODELCAR_BIN" inject -f tag.yaml --config require.json
echo "$MC_ERR" | mc_contains 'not pinned to a digest' || mc_fail "denial message: $MC_ERR"
cat > model.yaml <<'YAML'
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: m}
spec: {predictor: {model: {modelFormat: {name: modelcar}, storageUri: "oci://r.io/m:1"}}}
YAML
rc=0; "$MODELCAR_BIN" inject -f model.yaml 2> err.txt > /dev/null || rc=$?
[ $rc = 2 ] && grep -q 'serving-runtime' err.txt || mc_fail "model without runtime: rc=$rc $(cat err.txt)"

# Bad input never crashes: malformed YAML/JSON, wrong kinds, missing files.
printf 'kind: Pod\nspec: [unclosed\n' > broken.yaml
printf '{"kind": "Pod", ' > broken.json
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n' > cm.yaml
printf 'kind: Pod\nmetadata: {name: "bad\xff"}\nspec: {containers: [{name: kserve-container}]}\n' > badutf8.yaml
for f in broken.yaml broken.json cm.yaml missing.yaml badutf8.yaml; do
  rc=0; "$MODELCAR_BIN" inject -f $f > /dev/null 2> err.txt || rc=$?
  [ $rc = 2 ] || [ $rc = 1 ] || mc_fail "inject $f exited $rc"
  [ $rc -lt 128 ] || mc_fail "inject $f crashed"
  grep -q "$f\|kinds: ConfigMap" err.txt || mc_fail "error for $f does not name it: $(cat err.txt)"
  rc=0; "$MODELCAR_BIN" smoke -f $f > /dev/null 2>&1 || rc=$?
  [ $rc -lt 128 ] && [ $rc != 0 ] || mc_fail "smoke $f exited $rc"
done
echo "PASS inject_test"
