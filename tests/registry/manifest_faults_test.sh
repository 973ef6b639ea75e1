#!/usr/bin/env bash
# Manifests modelcar must refuse or pass through, against the real docker-registry:
#   - an artifact (helm-style config, a layer of an unknown media type) pushed to the registry:
#     `pull --layout` and `copy` move it verbatim like skopeo (a layout is content-addressed),
#     `inspect` shows the layer type; the node store pull, which unpacks layers, refuses the layer
#     type by name and commits no tree;
#   - served by fault_proxy.py (docker-registry refuses to store them): a manifest over 4 MiB, an
#     index over 4 MiB, a manifest of an unknown media type, a config claiming 100 MiB. Each gives
#     a clear error and a non-zero exit, and nothing is written.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
mc_start_registry
T=$MC_TMP

# No tree committed and no layout left behind.
nothing_written() {  # LAYOUT_DIR STORE_DIR
  [ ! -e "$1" ] || mc_fail "a refused pull left $1"
  [ -z "$(find "$2/trees" -mindepth 2 -maxdepth 2 2>/dev/null)" ] || mc_fail "a refused pull committed a tree in $2"
}
blob_upload() {  # REPO FILE
  local loc
  loc=$(curl -sf -D- -o /dev/null -X POST "http://$REGISTRY/v2/$1/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  curl -sf -o /dev/null -X PUT --data-binary "@$2" -H 'Content-Type: application/octet-stream' \
    "$loc&digest=sha256:$(sha256sum "$2" | cut -d' ' -f1)" || mc_fail "blob upload of $2"
}

# 1. An artifact pushed with curl: helm config, one layer of a type no tool unpacks.
printf '{"name":"chart","version":"0.1.0"}' > "$T/cfg"
head -c 5000 /dev/urandom > "$T/weights"
blob_upload art/x "$T/cfg"
blob_upload art/x "$T/weights"
/usr/bin/python3 - "$T" > "$T/art.json" <<'PY'
import hashlib, json, sys
def desc(path, media_type):
    b = open(path, "rb").read()
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(b).hexdigest(), "size": len(b)}
t = sys.argv[1]
print(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": desc(t + "/cfg", "application/vnd.cncf.helm.config.v1+json"),
                  "layers": [desc(t + "/weights", "application/vnd.example.weights.v1")]}))
PY
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$T/art.json" \
  -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "http://$REGISTRY/v2/art/x/manifests/v1")
[ "$code" = 201 ] || mc_fail "registry refused the artifact manifest: $code"
"$MC" pull "$REGISTRY/art/x:v1" --layout "$T/art:v1" --progress none >/dev/null || mc_fail "layout pull of an artifact"
skopeo copy -q --preserve-digests --src-tls-verify=false "docker://$REGISTRY/art/x:v1" "oci:$T/art-sk:v1"
same_files "$T/art-sk/blobs" "$T/art/blobs"
# inspect shows it (the layer's type, its files not listed); copy moves it verbatim.
"$MC" inspect "$REGISTRY/art/x:v1" >"$T/art.inspect" 2>&1 || mc_fail "inspect of an artifact: $(cat "$T/art.inspect")"
grep -q "application/vnd.example.weights.v1" "$T/art.inspect" || mc_fail "inspect hides the layer type: $(cat "$T/art.inspect")"
art_digest=sha256:$(sha256sum "$T/art.json" | cut -d' ' -f1)
c=$("$MC" copy "$REGISTRY/art/x:v1" "$REGISTRY/art/copied:v1" --progress none | tail -1)
[ "$c" = "$REGISTRY/art/copied@$art_digest" ] || mc_fail "copy of an artifact printed '$c'"
mc_expect_fail "$MC" pull "$REGISTRY/art/x:v1" --store "$T/store" --progress none
echo "$MC_ERR" | mc_contains "application/vnd.example.weights.v1" || mc_fail "store pull of an unknown layer type: $MC_ERR"
nothing_written "$T/none" "$T/store"
# Refused before anything is fetched or recorded: no ref, no manifest or config blob.
[ -z "$(ls -A "$T/store/refs" 2>/dev/null)" ] || mc_fail "a refused store pull recorded a ref: $(ls "$T/store/refs")"
[ -z "$(find "$T/store/blobs" -type f 2>/dev/null)" ] || mc_fail "a refused store pull stored blobs"

# 2. What the registry would not store, served by the proxy. CMD... runs for each command.
refused_everywhere() {  # WHAT EXPECTED_PATTERN
  local c
  for c in "pull $PROXY/x/y:v1 --layout $T/l:v1 --progress none" \
           "pull $PROXY/x/y:v1 --store $T/store --progress none" \
           "inspect $PROXY/x/y:v1" \
           "copy $PROXY/x/y:v1 $REGISTRY/copied/y:v1 --progress none"; do
    # shellcheck disable=SC2086
    mc_expect_fail "$MC" $c
    echo "$MC_ERR" | mc_contains -- "$2" || mc_fail "$1: '$c' said: $MC_ERR"
    echo "$MC_ERR" | mc_contains -- "x/y:v1" || mc_fail "$1: '$c' does not name the image: $MC_ERR"
    echo "$MC_ERR" | mc_contains -i "segmentation\|abort\|terminate" && mc_fail "$1: '$c' crashed: $MC_ERR"
  done
  nothing_written "$T/l" "$T/store"
  curl -sf -o /dev/null "http://$REGISTRY/v2/copied/y/manifests/v1" && mc_fail "$1: copy wrote a manifest"
  return 0
}
/usr/bin/python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
cfg = {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
       "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}
pad = {"pad": "x" * (5 << 20)}
def dump(name, doc):
    json.dump(doc, open(t + "/" + name, "w"))
dump("big.json", {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": cfg, "layers": [], "annotations": pad})
dump("bigindex.json", {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": [], "annotations": pad})
dump("bigconfig.json", {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "config": dict(cfg, size=100 << 20), "layers": []})
dump("unknown.json", {"schemaVersion": 2, "mediaType": "application/vnd.example.unknown.v1+json",
                      "config": cfg, "layers": []})
PY
start_proxy manifest "$T/big.json" application/vnd.oci.image.manifest.v1+json
refused_everywhere "5 MiB manifest" "manifest $PROXY/x/y:v1 is larger than 4 MiB"
start_proxy manifest "$T/bigindex.json" application/vnd.oci.image.index.v1+json
refused_everywhere "5 MiB index" "manifest $PROXY/x/y:v1 is larger than 4 MiB"
start_proxy manifest "$T/unknown.json" application/vnd.example.unknown.v1+json
refused_everywhere "unknown manifest type" 'media type "application/vnd.example.unknown.v1+json"'
# ... also when the registry sends a generic Content-Type and only the body names the type.
start_proxy manifest "$T/unknown.json" application/json
refused_everywhere "unknown manifest type in the body" 'media type "application/vnd.example.unknown.v1+json"'
# A config descriptor of 100 MiB: refused before it is fetched by what parses configs.
start_proxy manifest "$T/bigconfig.json" application/vnd.oci.image.manifest.v1+json
mc_expect_fail "$MC" pull "$PROXY/x/y:v1" --store "$T/store" --progress none
echo "$MC_ERR" | mc_contains "too large for a config" || mc_fail "100 MiB config, store pull: $MC_ERR"
mc_expect_fail "$MC" inspect "$PROXY/x/y:v1"
echo "$MC_ERR" | mc_contains "104857600 bytes, over the limit" || mc_fail "100 MiB config, inspect: $MC_ERR"
nothing_written "$T/l" "$T/store"
! grep -q "GET /v2/x/y/blobs/" "$PROXY_LOG" || mc_fail "the 100 MiB config was fetched"
echo PASS
