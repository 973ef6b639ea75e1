#!/usr/bin/env bash
# The node-store modes in a real container runtime (podman, runc), from the deploy/ manifests:
#   - the cache agent: deploy/cache-agent (kustomize `images:` set to modelcar's runtime image)
#     played as a pod, its hostPath store a directory of this test, its ConfigMap listing the test
#     model; it pulls and pins the model;
#   - cache mode: the InferenceService injected with ociModelMode cache over that store; the
#     init container modelcar-cache links the store's tree (no blob of the model is fetched, and
#     the model image is never pulled by the runtime), the server (uid 1010) serves it;
#   - fetch mode: modelcar-fetch fetches the model into the pod's emptyDir; the server serves it.
# Each pod also passes `modelcar smoke`, and a chat completion carries the model's digest.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/pod/lib.sh"
mc_tmpdir
pod_setup
pod_images
cd "$MC_TMP"
store=$MC_TMP/node-store
mkdir -p "$store"
hex=${MODEL_DIGEST#sha256:}

# 1. The cache agent from deploy/cache-agent, pointed at the test model.
mkdir agent
cat > agent/kustomization.yaml <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- $(realpath --relative-to=agent "$MODELCAR_SRC/deploy/cache-agent")
images:
- name: ghcr.io/modelcar/modelcar
  newName: ${RUNTIME_REF%@*}
  digest: ${RUNTIME_REF##*@}
EOF
kubectl kustomize agent > agent.yaml
/usr/bin/python3 - agent.yaml "$MODEL_REF" <<'PY' || mc_fail "cache-agent manifests"
import json, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
kinds = {d["kind"]: d for d in docs}
cm, ds = kinds["ConfigMap"], kinds["DaemonSet"]
cm["metadata"].pop("namespace", None)
cm["data"]["cache-agent.json"] = json.dumps({"refs": [sys.argv[2]]})
yaml.safe_dump(cm, open("agent-configmap.yaml", "w"))
yaml.safe_dump(ds, open("agent-daemonset.yaml", "w"))
assert ds["spec"]["template"]["spec"]["containers"][0]["image"].count("@sha256:") == 1
PY
aport=$(mc_free_port)
mkdir -p "$POD_ROOT/volumes/agent"
/usr/bin/python3 "$POD_BRIDGE" agent-daemonset.yaml --name cache-agent --volume-dir "$POD_ROOT/volumes/agent" \
  "--replace=--listen=127.0.0.1:8081::--listen=127.0.0.1:$aport" "--host-path=/var/lib/modelcar::$store" \
  --configmap agent-configmap.yaml > agent-play.yaml
before=$(blob_gets models/tinyqwen)
pm kube play --tls-verify=false agent-play.yaml > agent-play.log 2>&1 || { cat agent-play.log; mc_fail "play cache agent"; }
state=
for _ in $(seq 1 300); do
  state=$(curl -s "http://127.0.0.1:$aport/status" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["refs"][0]["state"])' 2>/dev/null || true)
  [ "$state" = present ] && break
  sleep 0.1
done
[ "$state" = present ] || { pm logs cache-agent-cache-agent >&2; mc_fail "cache agent state: $state"; }
agent_gets=$(( $(blob_gets models/tinyqwen) - before ))
"$MODELCAR_BIN" store ls --store "$store" | grep -c "$hex" >/dev/null || mc_fail "the store has no tree of $MODEL_DIGEST"

kubectl kustomize "$MODELCAR_SRC/deploy/examples/qwen-oci" |
  sed "s|oci://registry.example.com/models/qwen2.5-0.5b-instruct@sha256:[0-9a-f]*|oci://$MODEL_REF|" > isvc.yaml
sed "s|image: ghcr.io/modelcar/modelcar:0.1.0|image: $RUNTIME_REF|" "$MODELCAR_SRC/deploy/runtime/clusterservingruntime.yaml" > runtime.yaml

serve_check() {  # serve_check POD: the API answers and the fingerprint carries the model digest
  curl -sf "$POD_URL/v1/models" | grep -c '"id":"qwen2.5-0.5b-instruct"' >/dev/null || mc_fail "$1: /v1/models"
  fp=$(curl -sf "$POD_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -d '{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}' |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["system_fingerprint"])')
  [[ $fp == *-${hex:0:12} ]] || mc_fail "$1: system_fingerprint $fp"
}

# 2. Cache mode over the agent's store.
cat > cache.json <<EOF
{"enableModelcar": true, "uidModelcar": 1010, "digestPolicy": "require", "ociModelMode": "cache",
 "modelcarImage": "$RUNTIME_REF", "nodeCache": {"hostPath": "$store", "nodeLabel": "modelcar.dev/cache-agent"}}
EOF
"$MODELCAR_BIN" inject -f isvc.yaml --serving-runtime runtime.yaml --config cache.json > cache-pod.yaml
"$MODELCAR_BIN" smoke -f cache-pod.yaml > smoke.txt || { cat smoke.txt; mc_fail "smoke cache pod"; }
grep -q '^PASS injection (node cache init container modelcar-cache)' smoke.txt || mc_fail "cache smoke: $(cat smoke.txt)"
before=$(blob_gets models/tinyqwen)
pod_play cache-pod.yaml qwen-cache
pod_wait_ready qwen-cache
cache_ready=$POD_READY_S
[ "$(blob_gets models/tinyqwen)" = "$before" ] || mc_fail "cache mode fetched model blobs"
pm image exists "$MODEL_REF" && mc_fail "cache mode pulled the model image into the runtime"
pm exec qwen-cache-kserve-container ls -l /mnt/models > link.txt
grep -q "/mnt/models -> $store/trees/sha256/$hex" link.txt || mc_fail "cache link: $(cat link.txt)"
pm exec qwen-cache-kserve-container ls /mnt/models/ | grep -c '^model.safetensors$' >/dev/null || mc_fail "cache: model not readable"
serve_check qwen-cache
pod_rm qwen-cache

# 3. Fetch mode: the model lands in the pod's emptyDir.
sed 's/"ociModelMode": "cache"/"ociModelMode": "fetch"/' cache.json > fetch.json
"$MODELCAR_BIN" inject -f isvc.yaml --serving-runtime runtime.yaml --config fetch.json > fetch-pod.yaml
"$MODELCAR_BIN" smoke -f fetch-pod.yaml > smoke.txt || { cat smoke.txt; mc_fail "smoke fetch pod"; }
before=$(blob_gets models/tinyqwen)
pod_play fetch-pod.yaml qwen-fetch
pod_wait_ready qwen-fetch
fetch_ready=$POD_READY_S
fetch_gets=$(( $(blob_gets models/tinyqwen) - before ))
[ "$fetch_gets" -ge 1 ] || mc_fail "fetch mode fetched nothing"
pm exec qwen-fetch-kserve-container ls /mnt/models/ | grep -c '^model.safetensors$' >/dev/null || mc_fail "fetch: model not in /mnt/models"
serve_check qwen-fetch
pod_rm qwen-fetch
pod_rm cache-agent

echo "pod_store_test: cache agent pulled the model ($agent_gets blob GETs); cache-mode pod ready in ${cache_ready} s (0 blob GETs); fetch-mode pod ready in ${fetch_ready} s ($fetch_gets blob GETs)"
echo "PASS pod_store_test"
