#!/usr/bin/env bash
# modelcar build -> real OCI tools: umoci unpack gives back byte-identical files; skopeo inspect
# and skopeo copy accept the layout and keep the manifest digest; the busybox base runs KServe's
# sidecar and init commands (chroot into the unpacked rootfs).
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
cd "$MC_TMP"
mc_make_model model

digest=$("$MC" build model --layout out:v1 2>build.log | tail -n1)
[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || { cat build.log; mc_fail "last stdout line is not a digest: $digest"; }
grep -q "layer" build.log || mc_fail "no progress on stderr"

# skopeo reads the same manifest bytes, and a copy keeps the digest.
[ "$(mc_manifest_digest out:v1)" = "$digest" ] || mc_fail "skopeo sees a different manifest"
skopeo inspect "oci:out:v1" > inspect.json
grep -q '"Architecture": "amd64"' inspect.json || mc_fail "skopeo inspect: no architecture"
grep -q 'io.modelcar.model.architecture' inspect.json || mc_fail "skopeo inspect: no model label"
# (skopeo compresses layers for an oci: destination unless told to keep them as they are.)
skopeo copy -q --preserve-digests --dest-oci-accept-uncompressed-layers "oci:out:v1" "oci:copy:v1"
[ "$(mc_manifest_digest copy:v1)" = "$digest" ] || mc_fail "skopeo copy changed the digest"
# ... and through a real registry.
mc_start_registry
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:out:v1" "docker://$REGISTRY/models/m:v1"
remote=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/models/m:v1" | sha256sum | cut -d' ' -f1)
[ "sha256:$remote" = "$digest" ] || mc_fail "registry copy changed the digest"
# build --push streams the same image straight to the registry: same digest as the layout.
pushed=$("$MC" build model --push "$REGISTRY/models/pushed:v1" --progress json 2>push.log | tail -n1) || { cat push.log; mc_fail "build --push failed"; }
# --progress json: every stderr line an event of the one progress display (transfer/progress.h).
/usr/bin/python3 - push.log <<'PY' || mc_fail "build --push --progress json"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
assert all(e["op"] == "build" for e in events), events
assert any(e["event"] == "message" and e["message"].startswith("layer ") for e in events), events
assert [e["status"] for e in events if e["event"] == "done"] == ["built"], events
PY
[ "$pushed" = "$REGISTRY/models/pushed@$digest" ] || mc_fail "build --push gave $pushed, the layout build $digest"
remote=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/models/pushed:v1" | sha256sum | cut -d' ' -f1)
[ "sha256:$remote" = "$digest" ] || mc_fail "registry holds another manifest after build --push"
mc_expect_fail "$MC" build model --layout x --push "$REGISTRY/models/both"
# --base REF: a registry image as the base of a layout build; its layers come first, unchanged.
mkdir -p model2 && echo '{"architectures": ["Qwen2ForCausalLM"]}' > model2/config.json
"$MC" build model2 --layout onbase:v1 --base "$REGISTRY/models/pushed:v1" >/dev/null 2>onbase.log \
  || { cat onbase.log; mc_fail "build --base REF failed"; }
"$MC" inspect --layout out:v1 --json > base.json
"$MC" inspect --layout onbase:v1 --json > onbase.json
/usr/bin/python3 - base.json onbase.json <<'PY'
import json, sys
base, top = (json.load(open(p)) for p in sys.argv[1:3])
b = [l["digest"] for l in base["layers"]]
t = [l["digest"] for l in top["layers"]]
assert t[:len(b)] == b and len(t) == len(b) + 1, (b, t)
PY
mc_expect_fail "$MC" build model2 --layout bad:v1 --base "$REGISTRY/models/absent:v1"
# inspect REF: the registry copy shows the same manifest and layers as the layout.
"$MC" inspect "$REGISTRY/models/pushed:v1" --json > remote.json
/usr/bin/python3 - base.json remote.json <<'PY'
import json, sys
local, remote = (json.load(open(p)) for p in sys.argv[1:3])
assert remote["manifest"] == local["manifest"], (remote["manifest"], local["manifest"])
assert [l["digest"] for l in remote["layers"]] == [l["digest"] for l in local["layers"]]
assert remote["labels"] == local["labels"] and remote["totalSize"] == local["totalSize"]
PY
"$MC" inspect "$REGISTRY/models/pushed:v1" | mc_contains "model.safetensors" || mc_fail "inspect REF lacks titles"
mc_expect_fail "$MC" inspect "$REGISTRY/models/absent:v1"
mc_expect_fail "$MC" inspect "$REGISTRY/models/pushed:v1" --layout out:v1

# umoci unpack: byte-identical files under rootfs/models, normalized modes and owner.
umoci unpack --image out:v1 bundle > /dev/null
diff -r model bundle/rootfs/models || mc_fail "unpacked files differ from the model dir"
[ -d bundle/rootfs/models/empty ] || mc_fail "empty directory missing"
[ "$(stat -c %a bundle/rootfs/models/model.safetensors)" = 444 ] || mc_fail "file mode not 0444"
[ "$(stat -c %a bundle/rootfs/models/sub)" = 555 ] || mc_fail "dir mode not 0555"
[ "$(stat -c %u:%g bundle/rootfs/models/config.json)" = 0:0 ] || mc_fail "owner not 0:0"

# One layer per large file, titled with its path; small files share one layer.
"$MC" inspect --layout out:v1 --json > inspect-mc.json
/usr/bin/python3 - inspect-mc.json "$digest" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["manifest"]["digest"] == sys.argv[2], j["manifest"]
titles = [l.get("title") for l in j["layers"]]
assert titles == [None, None, "model.safetensors", "sub/adapter.safetensors"], titles
small = [f["path"] for f in j["layers"][1]["files"] if f["type"] == "file"]
assert "/models/config.json" in small and "/models/sub/deeper/notes.txt" in small, small
assert all(l["mediaType"] == "application/vnd.oci.image.layer.v1.tar" for l in j["layers"])
assert j["labels"]["io.modelcar.model.dtype"] == "bfloat16", j["labels"]
assert j["totalSize"] == sum(l["size"] for l in j["layers"]) + j["manifest"]["size"] + j["config"]["size"]
PY
"$MC" inspect --layout out:v1 | mc_contains "model.safetensors" || mc_fail "inspect text lacks files"

# KServe's init check and sidecar command run with the image's busybox.
chroot bundle/rootfs /bin/sh -c '[ -d /models ] && [ "$(ls -A /models)" ]' || mc_fail "init check failed"
chroot bundle/rootfs /bin/sh -c 'mkdir -p /tmp/mnt && ln -sf /models /tmp/mnt/models && ls /tmp/mnt/models/config.json && sleep 0 && echo ok' | tail -n1 | mc_contains -x ok \
  || mc_fail "sidecar-like command failed"

# --owner 1001:0 (OpenShift), --mode, --models-path, --base none.
d2=$("$MC" build model --layout out2 --owner 1001:0 --mode u=rwX,go=rX --models-path /opt/m --base none 2>/dev/null | tail -n1)
umoci unpack --image out2:latest bundle2 > /dev/null
[ "$(stat -c %u:%g:%a bundle2/rootfs/opt/m/model.safetensors)" = 1001:0:644 ] || mc_fail "owner/mode flags not applied"
[ "$(stat -c %a bundle2/rootfs/opt/m/sub)" = 755 ] || mc_fail "dir mode from --mode not applied"
[ ! -e bundle2/rootfs/bin ] || mc_fail "--base none still has a base layer"
[ "$d2" != "$digest" ] || mc_fail "different options gave the same digest"

# A second tag in the same layout keeps the first.
"$MC" build model --layout out:v2 --base none >/dev/null 2>&1
[ "$(mc_manifest_digest out:v1)" = "$digest" ] || mc_fail "adding a tag changed another tag"
echo "PASS build_interop"
