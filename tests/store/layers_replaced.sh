#!/usr/bin/env bash
# An image whose later layers write files of earlier layers again, delete files (whiteouts) and
# remove a directory, built by buildah (one layer per step) and pushed to the real registry
# gzipped (buildah) and uncompressed (buildah to a layout, then modelcar push): each pulls into the node store with the tree umoci unpacks (the OCI
# layer rules), `store verify` passes (every layer is rebuilt from the tree and the versions later
# layers replaced, kept in shadow/), a damaged kept version is found and repaired by the next
# pull, and `store serve` gives every layer of the uncompressed image back byte for byte (skopeo
# checks each digest).
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/peer/lib.sh"
B=$MODELCAR_BIN
mc_tmpdir
mc_start_registry
S=$MC_TMP/store
cd "$MC_TMP"

mkdir -p ctx/v1/sub ctx/v2
cp /bin/busybox ctx/busybox  # busybox-static (scripts/setup): runs in the image without libraries
head -c 300000 /dev/urandom > ctx/v1/w.bin
head -c 200000 /dev/urandom > ctx/v2/w.bin
echo old > ctx/v1/old.txt
echo s > ctx/v1/sub/s.txt
echo '{}' > ctx/v1/config.json
cat > ctx/Containerfile <<'EOF'
FROM scratch
COPY busybox /bin/busybox
COPY v1/ /models/
COPY v2/w.bin /models/w.bin
RUN ["/bin/busybox", "rm", "-r", "/models/old.txt", "/models/sub"]
RUN ["/bin/busybox", "sh", "-c", "echo '{\"v\":2}' > /models/config.json"]
EOF
BA=(buildah --root "$MC_TMP/broot" --runroot "$MC_TMP/brun" --storage-driver vfs)
MC_CLEANUP+=("${BA[*]} rm -a >/dev/null 2>&1; ${BA[*]} rmi -a -f >/dev/null 2>&1")
"${BA[@]}" bud -q --layers --isolation chroot --format oci -f ctx/Containerfile -t ml ctx > /dev/null
"${BA[@]}" push -q --tls-verify=false ml "docker://$REGISTRY/ml/gz:v1" > /dev/null
# The same layers uncompressed (buildah 1.28's --disable-compression still writes gzip here), pushed
# by modelcar; umoci makes the reference tree (the OCI image spec's layer rules).
"${BA[@]}" push -q ml "oci:$MC_TMP/lay:v0" > /dev/null
/usr/bin/python3 - "$MC_TMP/lay" <<'PY' || mc_fail "decompressing the layout"
import gzip, hashlib, json, os, sys
root = sys.argv[1]
path = lambda d: os.path.join(root, "blobs", "sha256", d.split(":")[1])
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    open(path(d), "wb").write(data)
    return d
index = json.load(open(os.path.join(root, "index.json")))
m = json.load(open(path(index["manifests"][0]["digest"])))
for l in m["layers"]:
    data = gzip.decompress(open(path(l["digest"]), "rb").read())
    l.update(mediaType="application/vnd.oci.image.layer.v1.tar", digest=put(data), size=len(data))
data = json.dumps(m).encode()
index["manifests"].append({"mediaType": m["mediaType"], "digest": put(data), "size": len(data),
                           "annotations": {"org.opencontainers.image.ref.name": "v1"}})
json.dump(index, open(os.path.join(root, "index.json"), "w"))
PY
$B push --layout "$MC_TMP/lay:v1" "$REGISTRY/ml/tar:v1" --progress none > /dev/null 2>&1 || mc_fail "push tar"
layers=$(skopeo inspect --raw "oci:$MC_TMP/lay:v1" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
assert all(l["mediaType"].endswith(".tar") for l in m["layers"]), m["layers"]
print(len(m["layers"]))') || mc_fail "the decompressed image has compressed layers"
(( layers >= 5 )) || mc_fail "expected one layer per step, got $layers"
umoci unpack --image lay:v1 bundle > /dev/null
cmp bundle/rootfs/models/w.bin ctx/v2/w.bin || mc_fail "umoci: w.bin is not the second version"

for repo in gz tar; do
  pinned=$($B pull "$REGISTRY/ml/$repo:v1" --store "$S" 2> pull.err) || mc_fail "pull $repo: $(cat pull.err)"
  digest=${pinned#*@sha256:}
  tree=$S/trees/sha256/$digest
  diff -r --no-dereference bundle/rootfs "$tree/rootfs" || mc_fail "$repo: the tree differs from umoci's"
  [ -d "$tree/shadow" ] || mc_fail "$repo: no replaced versions kept"
  [ -z "$(find "$tree/shadow" -perm /222 -type f)" ] || mc_fail "$repo: kept versions are writable"
  $B store verify "$REGISTRY/ml/$repo:v1" --store "$S" > verify.out 2>&1 ||
    mc_fail "$repo: store verify: $(cat verify.out)"
  grep -q "^OK" verify.out || mc_fail "$repo: store verify printed $(cat verify.out)"
done

# A damaged kept version (the first w.bin) is found, naming its layer; the next pull repairs it.
kept=$(find "$tree/shadow" -name w.bin -size 300000c)
[ -n "$kept" ] || mc_fail "the first w.bin is not kept"
chmod u+w "$kept"
mc_flip_byte "$kept" 1000
$B store verify "$REGISTRY/ml/tar:v1" --store "$S" > verify.out 2>&1 && mc_fail "verify passed a damaged tree"
first_w=$(skopeo inspect --raw "oci:$MC_TMP/lay:v1" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
for l in m["layers"]:
    if l["size"] > 300000 and l["size"] < 400000: print(l["digest"]); break')
[ -n "$first_w" ] && grep -q "$first_w" verify.out || mc_fail "verify did not name the layer: $(cat verify.out)"
$B pull "$REGISTRY/ml/tar:v1" --store "$S" > /dev/null 2> pull.err || mc_fail "repair pull: $(cat pull.err)"
$B store verify "$REGISTRY/ml/tar:v1" --store "$S" > verify.out 2>&1 || mc_fail "after repair: $(cat verify.out)"

# The uncompressed image's layers, earlier ones included, served from the tree.
peer_serve a "$S" --serve all
skopeo copy -q --src-tls-verify=false "docker://${SERVE_URL_a#http://}/ml/tar@sha256:$digest" \
  "oci:$MC_TMP/served:v1" || mc_fail "skopeo could not copy the image from store serve"
for l in $(skopeo inspect --raw "oci:$MC_TMP/served:v1" | /usr/bin/python3 -c '
import json, sys
print(" ".join(l["digest"].split(":")[1] for l in json.load(sys.stdin)["layers"]))'); do
  [ "$(sha256sum < "$MC_TMP/served/blobs/sha256/$l" | cut -d" " -f1)" = "$l" ] || mc_fail "served layer $l"
done
echo "PASS store_layers_replaced ($layers layers)"
