#!/usr/bin/env bash
# push / pull / resolve / copy against the real docker-registry (no auth), interop with skopeo
# both ways, --require-digest, and the errors for missing manifests and unreachable registries.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
mc_start_registry
T=$MC_TMP
make_model "$T/model" 3
"$MC" build "$T/model" --layout "$T/lay:v1" > /dev/null 2>&1 || mc_fail "build failed"
built=$(cd "$T/lay" && /usr/bin/python3 -c 'import json;print(json.load(open("index.json"))["manifests"][0]["digest"])')

# push: last stdout line is the pinned reference, with the layout's manifest digest.
pinned=$("$MC" push --layout "$T/lay:v1" "$REGISTRY/models/tiny:v1" --progress plain 2>"$T/push.err" | tail -1)
[ "$pinned" = "$REGISTRY/models/tiny@$built" ] || mc_fail "push printed '$pinned', want digest $built"
grep -q "pushed sha256:" "$T/push.err" || mc_fail "no per-blob progress lines"

# A second push skips every blob (HEAD).
"$MC" push --layout "$T/lay:v1" "$REGISTRY/models/tiny:v1" --progress json 2>"$T/push2.err" >/dev/null
grep -q '"status":"exists"' "$T/push2.err" || mc_fail "second push did not skip existing blobs"
! grep -q '"status":"pushed"' "$T/push2.err" || mc_fail "second push uploaded again"

# skopeo sees the same manifest digest, and its pull gives identical files.
raw=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/models/tiny:v1" | sha256sum | cut -d' ' -f1)
[ "sha256:$raw" = "$built" ] || mc_fail "skopeo sees manifest sha256:$raw"
skopeo copy -q --preserve-digests --src-tls-verify=false "docker://$REGISTRY/models/tiny:v1" "oci:$T/sk:v1"
same_files "$T/lay/blobs" "$T/sk/blobs"

# resolve and --require-digest.
[ "$("$MC" resolve "$REGISTRY/models/tiny:v1")" = "$pinned" ] || mc_fail "resolve"
mc_expect_fail "$MC" pull "$REGISTRY/models/tiny:v1" --layout "$T/x" --require-digest
echo "$MC_ERR" | mc_contains "IfNotPresent" || mc_fail "--require-digest message: $MC_ERR"
[ ! -e "$T/x" ] || mc_fail "refused pull created the layout"

# pull by digest: identical blobs, and the layout is valid for skopeo.
out=$("$MC" pull "$pinned" --layout "$T/pulled:v1" --progress none | tail -1)
[ "$out" = "$pinned" ] || mc_fail "pull printed '$out'"
same_files "$T/lay/blobs" "$T/pulled/blobs"
[ ! -e "$T/.pulled.modelcar-pull" ] || mc_fail "ingest directory left behind"
skopeo inspect --raw "oci:$T/pulled:v1" | sha256sum | mc_contains "${built#sha256:}" || mc_fail "pulled layout tag"

# skopeo pushes, modelcar pulls byte-exact.
skopeo copy -q --dest-tls-verify=false "oci:$T/lay:v1" "docker://$REGISTRY/by/skopeo:s"
skdigest=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/by/skopeo:s" | sha256sum | cut -d' ' -f1)
"$MC" pull "$REGISTRY/by/skopeo:s" --layout "$T/fromsk:s" --progress none >/dev/null
skopeo copy -q --preserve-digests --src-tls-verify=false "docker://$REGISTRY/by/skopeo:s" "oci:$T/sk2:s"
same_files "$T/sk2/blobs" "$T/fromsk/blobs"
[ -f "$T/fromsk/blobs/sha256/$skdigest" ] || mc_fail "manifest pushed by skopeo not in pulled layout"

# copy within one registry mounts the blobs.
copied=$("$MC" copy "$REGISTRY/models/tiny:v1" "$REGISTRY/other/tiny:v2" --progress plain 2>"$T/copy.err" | tail -1)
[ "$copied" = "$REGISTRY/other/tiny@$built" ] || mc_fail "copy printed '$copied'"
grep -q "^mounted" "$T/copy.err" || mc_fail "copy did not mount blobs"

# Ranged parallel parts (tiny parts to force them) give the same bytes.
"$MC" pull "$pinned" --layout "$T/parts:v1" --part-size-mib 1 --parallel-parts 4 --progress none >/dev/null
same_files "$T/lay/blobs" "$T/parts/blobs"

# Chunked and monolithic uploads both work.
for mode in chunked monolithic; do
  p=$("$MC" push --layout "$T/lay:v1" "$REGISTRY/mode/$mode:v1" --upload-mode $mode --chunk-size-mib 1 --progress none | tail -1)
  [ "$p" = "$REGISTRY/mode/$mode@$built" ] || mc_fail "$mode push printed '$p'"
done

# Errors: unknown tag, unknown repo, refused connection, unknown host.
mc_expect_fail "$MC" pull "$REGISTRY/models/tiny:nope" --layout "$T/e1"
echo "$MC_ERR" | mc_contains "not found" || mc_fail "missing tag: $MC_ERR"
echo "$MC_ERR" | mc_contains "models/tiny:nope" || mc_fail "missing tag message lacks the name: $MC_ERR"
[ ! -e "$T/e1" ] || mc_fail "failed pull left a layout"
port=$(mc_free_port)
mc_expect_fail "$MC" resolve "127.0.0.1:$port/a/b:c" --retries 1
echo "$MC_ERR" | mc_contains -i "connect" || mc_fail "refused: $MC_ERR"
mc_expect_fail "$MC" resolve "no-such-host.invalid/a/b:c" --retries 1
echo "$MC_ERR" | mc_contains -i "resolve host" || mc_fail "unknown host: $MC_ERR"
echo PASS
