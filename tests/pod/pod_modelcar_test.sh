#!/usr/bin/env bash
# The injected pod in a real container runtime. From the deploy/ manifests (the qwen-oci
# InferenceService and the modelcar-cpu runtime, its image set by a kustomize `images:` overlay to
# modelcar's runtime image made by scripts/runtime-image), `modelcar inject` and the TLS webhook
# make the same pod; podman (runc) plays it with images pulled by digest from the local registry.
# On the running pod: the runbook's smoke test (shared PID namespace, modelcar-init ran, containers
# kserve-container + modelcar, `ls -l /mnt/models` in kserve-container lists the model through the
# link), GET /v1/models and a chat completion whose system_fingerprint carries the model image's
# digest. Then stop/resume (the pod removed and played again pulls no blob from the registry), and
# the uid cases: a root server without CAP_SYS_PTRACE next to a uid-1010 sidecar is flagged by
# `modelcar smoke` and cannot read /mnt/models in the runtime (the server says why and exits);
# with SYS_PTRACE added it serves.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/pod/lib.sh"
here=$MODELCAR_SRC/tests/pod
mc_tmpdir
pod_setup
pod_images
cd "$MC_TMP"

# The bridge expands command/args as kubelet does (cases from kubelet's expansion tests).
/usr/bin/python3 - "$here" <<'PY' || mc_fail "kubelet expansion"
import sys
sys.path.insert(0, sys.argv[1])
from kubelet_bridge import expand
env = {"VAR_A": "A", "VAR_B": "B"}
cases = {"$$$$": "$$", "$(VAR_A)": "A", "$$(VAR_A)": "$(VAR_A)", "___$(VAR_B)___": "___B___",
         "$(VAR_NONE)": "$(VAR_NONE)", "$(VAR_A": "$(VAR_A", "$": "$", "a$b": "a$b",
         "ln -sf /proc/$$$$/root/models /mnt/models": "ln -sf /proc/$$/root/models /mnt/models",
         '[ "$$(ls -A /models)" ]': '[ "$(ls -A /models)" ]'}
for given, want in cases.items():
    assert expand(given, env) == want, (given, expand(given, env), want)
PY

# 0. modelcar's runtime image: the same build gives the same digest, and the one image runs each
#    subcommand: the webhook as deploy/webhook runs it (uid 65532, read-only root filesystem, its
#    args), the sidecar; serve and cache-agent run in the pods below and in pod_store_test.
again=$(MODELCAR_BIN=$MODELCAR_BIN "$MODELCAR_SRC/scripts/runtime-image" "$REGISTRY/modelcar:again" 2>/dev/null)
[ "${again##*@}" = "${RUNTIME_REF##*@}" ] || mc_fail "runtime image not reproducible: $RUNTIME_REF vs $again"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1" -keyout key.pem -out cert.pem 2>/dev/null
chmod 644 key.pem  # the webhook runs as uid 65532
mkdir -p tls config
cp cert.pem tls/tls.crt && cp key.pem tls/tls.key
/usr/bin/python3 - "$MODELCAR_SRC/deploy/webhook" > webhook-args.txt <<'PY'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1] + "/deployment.yaml"))
c = d["spec"]["template"]["spec"]["containers"][0]
assert d["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 65532
assert c["securityContext"]["readOnlyRootFilesystem"] is True
cm = yaml.safe_load(open(sys.argv[1] + "/configmap.yaml"))
open("config/storageInitializer", "w").write(cm["data"]["storageInitializer"])
print("\n".join(c["args"]))
PY
wport=$(mc_free_port)
mapfile -t wargs < webhook-args.txt
pm run -q -d --name webhook --network host --user 65532 --read-only --cap-drop ALL \
  -v "$MC_TMP/tls:/etc/modelcar/tls:ro" -v "$MC_TMP/config:/etc/modelcar/config:ro" \
  "$RUNTIME_REF" "${wargs[@]/--port=9443/--port=$wport}" --host=127.0.0.1 > /dev/null || mc_fail "run the webhook"
for _ in $(seq 1 100); do
  curl -sf --cacert cert.pem "https://127.0.0.1:$wport/readyz" >/dev/null && break
  sleep 0.1
done
[ "$(curl -sS --cacert cert.pem "https://127.0.0.1:$wport/healthz")" = ok ] || { pm logs webhook >&2; mc_fail "webhook in the runtime image"; }
pm rm -f -t 0 webhook > /dev/null
pm run -q --rm --network host "$RUNTIME_REF" sidecar --no-wait --link /tmp/m/models > sidecar.txt || mc_fail "sidecar"
grep -Eq '^/tmp/m/models -> /proc/[0-9]+/root/models$' sidecar.txt || mc_fail "sidecar: $(cat sidecar.txt)"

# 1. The deploy/ manifests as a user applies them: the example pointed at the test model; an
#    overlay of deploy/ whose `images:` sets modelcar's image (webhook, cache agent, runtime) to
#    the runtime image's digest.
kubectl kustomize "$MODELCAR_SRC/deploy/examples/qwen-oci" |
  sed "s|oci://registry.example.com/models/qwen2.5-0.5b-instruct@sha256:[0-9a-f]*|oci://$MODEL_REF|" > isvc.yaml
grep -q "storageUri: oci://$MODEL_REF" isvc.yaml || mc_fail "example storageUri not replaced"
mkdir overlay
cat > overlay/kustomization.yaml <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(realpath --relative-to=overlay "$MODELCAR_SRC/deploy")
images:
- name: ghcr.io/modelcar/modelcar
  newName: ${RUNTIME_REF%@*}
  digest: ${RUNTIME_REF##*@}
EOF
kubectl kustomize overlay > deploy.yaml
/usr/bin/python3 - deploy.yaml "$RUNTIME_REF" <<'PY' || mc_fail "kustomize images: on deploy/"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
images = {}
for d in docs:
    spec = d.get("spec") or {}
    spec = spec.get("template", {}).get("spec", spec)
    for c in spec.get("containers", []):
        images[d["kind"] + "/" + c["name"]] = c["image"]
assert set(images) == {"Deployment/webhook", "DaemonSet/cache-agent",
                       "ClusterServingRuntime/kserve-container"}, images
assert set(images.values()) == {sys.argv[2]}, images
yaml.safe_dump([d for d in docs if d["kind"] == "ClusterServingRuntime"][0], open("runtime.yaml", "w"))
PY

# 2. The pod, offline and from the webhook over TLS, with the shipped webhook config.
config=$MODELCAR_SRC/deploy/webhook/configmap.yaml
"$MODELCAR_BIN" inject -f isvc.yaml --serving-runtime runtime.yaml --config "$config" -o json > pod.json
"$MODELCAR_BIN" smoke -f pod.json > smoke.txt || { cat smoke.txt; mc_fail "smoke on the injected pod"; }
echo '{"enableModelcar": false}' > off.json
"$MODELCAR_BIN" inject -f isvc.yaml --serving-runtime runtime.yaml --config off.json -o json > plain.json 2>/dev/null
wport=$(mc_free_port)
"$MODELCAR_BIN" webhook --host 127.0.0.1 --port "$wport" --tls-cert cert.pem --tls-key key.pem \
  --config "$config" 2> webhook.log &
wpid=$!
MC_CLEANUP+=("kill $wpid 2>/dev/null")
for _ in $(seq 1 100); do
  curl -sf --cacert cert.pem "https://127.0.0.1:$wport/readyz" >/dev/null && break
  sleep 0.1
done
/usr/bin/python3 - "$MODELCAR_SRC/tests/kube/testdata/admission_review.json" plain.json review.json <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["request"]["object"] = json.load(open(sys.argv[2]))
r["request"]["namespace"] = "models"
json.dump(r, open(sys.argv[3], "w"))
PY
curl -sf --cacert cert.pem -H 'Content-Type: application/json' --data-binary @review.json \
  "https://127.0.0.1:$wport/mutate-pods" > response.json || mc_fail "webhook request"
/usr/bin/python3 "$MODELCAR_SRC/tests/kube/jsonpatch.py" review.json response.json > webhook-pod.json
/usr/bin/python3 - pod.json webhook-pod.json "$MODEL_REF" <<'PY' || mc_fail "webhook and inject disagree"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a == b, json.dumps([a, b])[:2000]
env = {e["name"]: e.get("value") for e in b["spec"]["containers"][0]["env"]}
assert env["MODELCAR_MODEL_IMAGE"] == sys.argv[3], env
PY
kill "$wpid"

# 3. Play the webhook's pod.
gets0=$(blob_gets)
pod_play webhook-pod.json qwen
pod_wait_ready qwen
first_ready=$POD_READY_S first_play=$POD_PLAY_S
model_gets=$(blob_gets models/tinyqwen)  # the runtime image is on the node since step 0
[ "$model_gets" -ge 1 ] && [ "$(blob_gets modelcar)" -ge 1 ] || mc_fail "no blob pulled"
pm logs qwen-kserve-container 2>&1 | grep -E "waiting|appeared|ready in" | sed 's/^/first pod: /' 

# The runbook's smoke test on the running pod.
[[ $(pm pod inspect qwen --format '{{.SharedNamespaces}}') == *pid* ]] || mc_fail "PID namespace not shared"
grep -q '"Name":"qwen-modelcar-init","Status":"died"' "$POD_ROOT/events.log" || mc_fail "modelcar-init did not run"
grep -q '"Name":"qwen-modelcar-init","Status":"restart"' "$POD_ROOT/events.log" && mc_fail "modelcar-init was restarted"
names=$(pm ps --filter pod=qwen --format '{{.Names}}' | grep -v -- -infra | sort | tr '\n' ' ')
[ "$names" = "qwen-kserve-container qwen-modelcar " ] || mc_fail "containers: $names"
pm exec qwen-kserve-container ls -l /mnt/models > link.txt
grep -Eq '/mnt/models -> /proc/[0-9]+/root/models' link.txt || mc_fail "link: $(cat link.txt)"
pm exec qwen-kserve-container ls -l /mnt/models/ > files.txt
for f in config.json model.safetensors tokenizer.json; do
  grep -q " $f\$" files.txt || mc_fail "$f not listed through the link: $(cat files.txt)"
done
[ "$(pm exec qwen-kserve-container id -u)" = 1010 ] || mc_fail "kserve-container uid"

# The API, and the digest the pod was admitted with in system_fingerprint.
curl -sf "$POD_URL/v1/models" | grep -c '"id":"qwen2.5-0.5b-instruct"' >/dev/null || mc_fail "/v1/models: $(curl -s "$POD_URL/v1/models")"
code=$(curl -s -o chat.json -w '%{http_code}' "$POD_URL/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"qwen2.5-0.5b-instruct","messages":[{"role":"user","content":"Say hello"}],"max_tokens":4}')
[ "$code" = 200 ] || mc_fail "chat completion answered $code: $(cat chat.json)"
fp=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["system_fingerprint"])' chat.json)
hex=${MODEL_DIGEST#sha256:}
[[ $fp == *-${hex:0:12} ]] || mc_fail "system_fingerprint $fp does not carry $MODEL_DIGEST"
pm logs qwen-kserve-container 2>&1 | grep -c "model image $MODEL_REF (MODELCAR_MODEL_IMAGE): system_fingerprint carries $MODEL_DIGEST" >/dev/null ||
  mc_fail "serve did not log the digest it serves: $(pm logs qwen-kserve-container 2>&1 | head)"

# 4. Stop and resume: the pod goes, the images stay on the node; no blob is fetched again.
pod_rm qwen
before=$(blob_gets)
pod_play webhook-pod.json qwen
pod_wait_ready qwen
resumed_ready=$POD_READY_S resumed_play=$POD_PLAY_S
[ "$(blob_gets)" = "$before" ] || mc_fail "resume fetched $(( $(blob_gets) - before )) blobs again"
pm logs qwen-kserve-container 2>&1 | grep -E "waiting|appeared|ready in" | sed 's/^/resumed pod: /' 
curl -sf "$POD_URL/v1/models" | grep -c qwen2.5-0.5b-instruct >/dev/null || mc_fail "/v1/models after resume"
pod_rm qwen

# 5. uid cases (KServe #4995): the server as root without CAP_SYS_PTRACE, the sidecar as 1010.
/usr/bin/python3 - pod.json root.json root-ptrace.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["spec"]["containers"][0]["securityContext"] = {"runAsUser": 0}
json.dump(p, open(sys.argv[2], "w"))
p["spec"]["containers"][0]["securityContext"]["capabilities"] = {"add": ["SYS_PTRACE"]}
json.dump(p, open(sys.argv[3], "w"))
PY
rc=0; "$MODELCAR_BIN" smoke -f root.json > smoke-root.txt || rc=$?
[ $rc = 1 ] && grep -q '^FAIL uid-ptrace: kserve-container runs as uid 0 and the modelcar sidecar as uid 1010' smoke-root.txt ||
  mc_fail "smoke did not flag the root server: $(cat smoke-root.txt)"
[ "$(grep -c ^FAIL smoke-root.txt)" = 1 ] || mc_fail "smoke: $(cat smoke-root.txt)"
pod_play root.json qwen-root
for _ in $(seq 1 300); do
  pm logs qwen-root-kserve-container 2>&1 | grep -c "cannot follow" >/dev/null && break
  sleep 0.1
done
pm logs qwen-root-kserve-container > root.log 2>&1 || true
grep -q "is a link to /proc/[0-9]*/root/models that this container cannot follow (Permission denied, running as uid 0)" root.log ||
  mc_fail "the root server did not fail on the link: $(cat root.log)"
grep -q "CAP_SYS_PTRACE" root.log || mc_fail "no fix in the message: $(cat root.log)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$POD_URL/health")" != 200 ] || mc_fail "the root server became ready"
pod_rm qwen-root
"$MODELCAR_BIN" smoke -f root-ptrace.json | grep -c '^PASS uid-ptrace (kserve-container runs as root with CAP_SYS_PTRACE)' >/dev/null ||
  mc_fail "smoke on root with SYS_PTRACE"
pod_play root-ptrace.json qwen-ptrace
pod_wait_ready qwen-ptrace
pm exec qwen-ptrace-kserve-container ls /mnt/models/ | grep -c '^model.safetensors$' >/dev/null || mc_fail "ls with SYS_PTRACE"
pod_rm qwen-ptrace

echo "pod_modelcar_test: first start (model image pulled: $model_gets blob GETs) ready in ${first_ready} s (kube play ${first_play} s); after stop/resume ready in ${resumed_ready} s (kube play ${resumed_play} s) with 0 blob GETs"
echo "PASS pod_modelcar_test"
