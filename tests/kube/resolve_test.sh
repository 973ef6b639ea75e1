#!/usr/bin/env bash
# digestPolicy resolve against a real registry (Debian docker-registry): the webhook looks the tag
# up at admission time and the pod comes back pinned to the digest the registry serves (checked
# with skopeo); a tag the registry does not have is denied with the registry's answer.
source "$MODELCAR_SRC/tests/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
mc_tmpdir
cd "$MC_TMP"
mc_start_registry

# A tiny image made by umoci, pushed with skopeo (independent of modelcar's own push).
umoci init --layout layout >/dev/null
umoci new --image layout:v1 >/dev/null
skopeo copy -q --dest-tls-verify=false oci:layout:v1 "docker://$REGISTRY/models/tiny:v1"
want=sha256:$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/models/tiny:v1" | sha256sum | cut -d' ' -f1)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=t \
  -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem 2>/dev/null
echo '{"enableModelcar": true, "digestPolicy": "resolve"}' > config.json
port=$(mc_free_port)
"$MODELCAR_BIN" webhook --host 127.0.0.1 --port "$port" --tls-cert cert.pem --tls-key key.pem \
  --config config.json --plain-http 2> webhook.log &
pid=$!
MC_CLEANUP+=("kill $pid 2>/dev/null")
for i in $(seq 1 100); do
  curl -sf --cacert cert.pem "https://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done

review() {  # review URI OUT
  /usr/bin/python3 - "$here/testdata/admission_review.json" "$2" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["request"]["object"]["metadata"]["annotations"]["internal.serving.kserve.io/storage-initializer-sourceuri"] = sys.argv[3]
json.dump(r, open(sys.argv[2], "w"))
PY
}
review "oci://$REGISTRY/models/tiny:v1" tag.json
curl -sS --cacert cert.pem -o out.json --data-binary @tag.json "https://127.0.0.1:$port/mutate-pods"
/usr/bin/python3 "$here/jsonpatch.py" tag.json out.json > patched.json || { cat out.json webhook.log; mc_fail "no patch"; }
/usr/bin/python3 - patched.json "$REGISTRY/models/tiny@$want" <<'PY' || mc_fail "pod not pinned to $want"
import json, sys
p = json.load(open(sys.argv[1])); want = sys.argv[2]
ann = p["metadata"]["annotations"]
assert ann["modelcar.dev/source-uri"] == "oci://" + want, ann
assert "internal.serving.kserve.io/storage-initializer-sourceuri" not in ann, ann
sidecar = [c for c in p["spec"]["containers"] if c["name"] == "modelcar"][0]
assert sidecar["image"] == want and sidecar["imagePullPolicy"] == "IfNotPresent", sidecar
assert p["spec"]["initContainers"][0]["image"] == want
PY
"$MODELCAR_BIN" smoke -f patched.json > /dev/null || mc_fail "smoke on the resolved pod"

review "oci://$REGISTRY/models/tiny:nope" missing.json
curl -sS --cacert cert.pem -o out.json --data-binary @missing.json "https://127.0.0.1:$port/mutate-pods"
/usr/bin/python3 -c '
import json; r = json.load(open("out.json"))["response"]
assert r["allowed"] is False and "cannot resolve" in r["status"]["message"], r' \
  || mc_fail "unknown tag not denied: $(cat out.json)"
echo "PASS resolve_test"
