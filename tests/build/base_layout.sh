#!/usr/bin/env bash
# --base layout:DIR:TAG on base images made by umoci and by buildah: the result keeps the base's
# layers and config, adds the model, and unpacks with umoci; skopeo accepts it.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
cd "$MC_TMP"
mc_make_model m

check_image() {  # LAYOUT:TAG FILE-FROM-BASE
  local image=$1 base_file=$2 bundle=$MC_TMP/bundle-$RANDOM
  local digest; digest=$(mc_manifest_digest "$image")
  umoci unpack --image "$image" "$bundle" >/dev/null
  [ -f "$bundle/rootfs/$base_file" ] || mc_fail "$image: base file /$base_file missing"
  diff -r m "$bundle/rootfs/models" || mc_fail "$image: model files differ"
  skopeo inspect "oci:$image" >/dev/null || mc_fail "$image: skopeo inspect failed"
}

# Base 1: umoci (init, new, insert), built in the output layout itself and in a separate one.
umoci init --layout ubase
umoci new --image ubase:base
echo from-umoci > hello-umoci
umoci insert --image ubase:base hello-umoci /etc/hello-umoci >/dev/null
ubase_layers=$(skopeo inspect --raw oci:ubase:base | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["layers"]))')
d1=$("$MC" build m --layout out:u --base layout:ubase:base 2>/dev/null | tail -n1)
[[ $d1 =~ ^sha256: ]] || mc_fail "build on the umoci base failed"
check_image out:u etc/hello-umoci
layers=$(skopeo inspect --raw oci:out:u | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["layers"]))')
[ "$layers" = $((ubase_layers + 3)) ] || mc_fail "expected $ubase_layers base + 3 model layers, got $layers"
# Into the base's own layout (blobs already present are not copied again).
"$MC" build m --layout ubase:with-model --base layout:ubase:base >/dev/null 2>&1 || mc_fail "build into the base layout"
check_image ubase:with-model etc/hello-umoci
[ "$(mc_manifest_digest ubase:with-model)" = "$d1" ] || mc_fail "same inputs, other layout, other digest"

# Base 2: buildah bud (FROM scratch + COPY, OCI format), pushed to an OCI layout.
mkdir ctx && echo from-buildah > ctx/hello-buildah
printf 'FROM scratch\nCOPY hello-buildah /etc/hello-buildah\nCMD ["/bin/true"]\n' > ctx/Containerfile
B=(buildah --root "$MC_TMP/broot" --runroot "$MC_TMP/brun" --storage-driver vfs)
MC_CLEANUP+=("${B[*]} rm -a >/dev/null 2>&1; ${B[*]} rmi -a -f >/dev/null 2>&1")
"${B[@]}" bud -q --format oci -f ctx/Containerfile -t bbase ctx >/dev/null
"${B[@]}" push -q bbase "oci:$MC_TMP/bbase:base" >/dev/null
"$MC" build m --layout out:b --base layout:bbase:base >/dev/null 2>&1 || mc_fail "build on the buildah base failed"
check_image out:b etc/hello-buildah
skopeo inspect oci:out:b | mc_contains '"/bin/true"' && true  # Cmd is inherited (checked below)
/usr/bin/python3 - "$MC_TMP/out" <<'PY' || mc_fail "buildah base config not carried over"
import json, sys, os
root = sys.argv[1]
idx = json.load(open(os.path.join(root, "index.json")))
m = [e for e in idx["manifests"] if e["annotations"]["org.opencontainers.image.ref.name"] == "b"][0]
blob = lambda d: json.load(open(os.path.join(root, "blobs", "sha256", d.split(":")[1])))
man = blob(m["digest"])
cfg = blob(man["config"]["digest"])
assert cfg["config"]["Cmd"] == ["/bin/true"], cfg["config"]
assert len(cfg["rootfs"]["diff_ids"]) == len(man["layers"]), cfg["rootfs"]
assert cfg["config"]["Labels"]["io.modelcar.model.architecture"] == "Qwen2ForCausalLM"
PY

# A base tag that does not exist names the tags that do.
mc_expect_fail "$MC" build m --layout out:x --base layout:ubase:nope
echo "$MC_ERR" | mc_contains 'tag "nope" not found.*base' || mc_fail "missing base tag message: $MC_ERR"
echo "PASS build_base_layout"
