#!/usr/bin/env bash
# modelcar's webhook next to KServe v0.20's (a stand-in: tests/kube/kserve_v020.py) through the API
# server's mutating admission order (a stand-in: tests/kube/apiserver.py): every ociModelMode x
# KServe's OCI support off/modelcar/native x webhook order, with real `modelcar webhook` processes
# (TLS, digestPolicy resolve) against a real registry (Debian docker-registry) holding a tag. The
# matrix must equal the one in docs/kserve.md. See coexist.py for the checks.
source "$MODELCAR_SRC/tests/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
mc_tmpdir
cd "$MC_TMP"
mc_start_registry

# A tiny image made by umoci, pushed with skopeo (independent of modelcar's own push).
umoci init --layout layout >/dev/null
umoci new --image layout:v1 >/dev/null
skopeo copy -q --dest-tls-verify=false oci:layout:v1 "docker://$REGISTRY/models/tiny:v1"
digest=sha256:$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/models/tiny:v1" | sha256sum | cut -d' ' -f1)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=t \
  -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem 2>/dev/null
args=()
for mode in modelcar native fetch cache; do
  # KServe's shipped storageInitializer keys, as docs/kserve.md tells to copy them, plus modelcar's.
  cat > "config-$mode.json" <<JSON
{"enableModelcar": true, "cpuModelcar": "10m", "memoryModelcar": "15Mi", "uidModelcar": 1010,
 "ociModelMode": "$mode", "digestPolicy": "resolve", "modelcarImage": "$REGISTRY/modelcar:test"}
JSON
  port=$(mc_free_port)
  "$MODELCAR_BIN" webhook --host 127.0.0.1 --port "$port" --tls-cert cert.pem --tls-key key.pem \
    --config "config-$mode.json" --plain-http 2> "webhook-$mode.log" &
  MC_CLEANUP+=("kill $! 2>/dev/null")
  args+=(--webhook "$mode=$port")
  for i in $(seq 1 100); do
    curl -sf --cacert cert.pem "https://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
  done
done
/usr/bin/python3 "$here/coexist.py" --ca cert.pem "${args[@]}" --registry "$REGISTRY" \
  --digest "$digest" --bin "$MODELCAR_BIN" --src "$MODELCAR_SRC" --write-table matrix.md \
  > coexist.txt || { cat coexist.txt; tail -n 5 webhook-*.log; mc_fail "coexistence checks"; }
grep -c '^PASS' coexist.txt
echo "PASS coexist_test"
