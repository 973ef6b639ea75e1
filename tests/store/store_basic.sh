#!/usr/bin/env bash
# Node store against the real registry: pull (policies, no network when present), mount, fetch,
# store ls/df/verify/gc/rm, gzip layers from another builder (umoci), sidecar, prefetch-check.
source "$MODELCAR_SRC/tests/lib/common.sh"
B=$MODELCAR_BIN
mc_tmpdir
mc_start_registry
S=$MC_TMP/store

mkdir -p "$MC_TMP/model/sub"
head -c 20000000 /dev/urandom > "$MC_TMP/model/model.safetensors"
echo '{"model_type":"qwen2"}' > "$MC_TMP/model/config.json"
echo hi > "$MC_TMP/model/sub/note.txt"
$B build "$MC_TMP/model" --layout "$MC_TMP/layout:v1" > /dev/null
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$MC_TMP/layout:v1" "docker://$REGISTRY/m:v1"

# pull prints the pinned ref; the files are there, read-only.
pinned=$($B pull "$REGISTRY/m:v1" --store "$S" 2>"$MC_TMP/err")
[[ $pinned == "$REGISTRY/m@sha256:"* ]] || mc_fail "pull printed '$pinned'"
digest=${pinned#*@sha256:}
tree=$S/trees/sha256/$digest/rootfs
cmp "$tree/models/model.safetensors" "$MC_TMP/model/model.safetensors" || mc_fail "weights differ"
cmp "$tree/models/sub/note.txt" "$MC_TMP/model/sub/note.txt" || mc_fail "note differs"
[ -x "$tree/bin/sh" ] || mc_fail "busybox base layer missing from the tree"
[ -z "$(find "$tree" -perm /222 -type f)" ] || mc_fail "tree has writable files"
# One write per byte: no copy of the weights blob in the store.
blob_bytes=$(du -sb "$S/blobs" | cut -f1)
(( blob_bytes < 1000000 )) || mc_fail "store keeps $blob_bytes bytes of blobs"

# Concurrent pulls of one image into one store cooperate: one downloads, the other waits and
# shares the tree (together they fetch the image once).
S2=$MC_TMP/store2
$B pull "$REGISTRY/m:v1" --store "$S2" > "$MC_TMP/p1" 2> "$MC_TMP/e1" &
p1=$!
$B pull "$REGISTRY/m:v1" --store "$S2" > "$MC_TMP/p2" 2> "$MC_TMP/e2" &
p2=$!
wait $p1 || mc_fail "concurrent pull 1: $(cat "$MC_TMP/e1")"
wait $p2 || mc_fail "concurrent pull 2: $(cat "$MC_TMP/e2")"
[ "$(cat "$MC_TMP/p1")" = "$pinned" ] && [ "$(cat "$MC_TMP/p2")" = "$pinned" ] || mc_fail "pins differ"
total=0
for e in "$MC_TMP/e1" "$MC_TMP/e2"; do
  n=$(sed -nE 's/.*fetched ([0-9]+) bytes.*/\1/p' "$e" | tail -1)
  total=$((total + ${n:-0}))
done
(( total < 30000000 )) || mc_fail "two concurrent pulls fetched $total bytes (image is ~22 MB)"

# IfNotPresent: digest and tag refs need no network (registry stopped).
kill "$REGISTRY_PID"; wait "$REGISTRY_PID" 2>/dev/null || true
out=$($B pull "$pinned" --store "$S" 2>"$MC_TMP/err") || mc_fail "digest pull needed the network: $(cat "$MC_TMP/err")"
[ "$out" = "$pinned" ] || mc_fail "second pull printed $out"
grep -q "no network" "$MC_TMP/err" || mc_fail "no-network pull not reported"
$B pull "$REGISTRY/m:v1" --store "$S" > /dev/null 2>&1 || mc_fail "tag pull (IfNotPresent) needed the network"
mc_expect_fail $B pull "$pinned" --store "$S" --pull always
mc_expect_fail $B pull "$REGISTRY/other:v1" --store "$S" --pull never
grep -q "never" <<<"$MC_ERR" || mc_fail "--pull never message: $MC_ERR"

# mount: prints the target, DEST is a symlink to the tree's models dir; re-mount replaces it.
target=$($B mount "$pinned" "$MC_TMP/mnt/models" --store "$S" -q)
[ "$target" = "$tree/models" ] || mc_fail "mount printed $target"
[ "$(readlink "$MC_TMP/mnt/models")" = "$tree/models" ] || mc_fail "link target wrong"
cmp "$MC_TMP/mnt/models/model.safetensors" "$MC_TMP/model/model.safetensors" || mc_fail "mount content"
# Warm mount timing is measured in bench/pull.sh, not asserted here.

# fetch: same filesystem -> hard links.
$B fetch "$pinned" "$MC_TMP/fetched" --store "$S" -q 2>"$MC_TMP/err" > /dev/null
grep -q "hard-linked" "$MC_TMP/err" || mc_fail "fetch summary missing"
cmp "$MC_TMP/fetched/model.safetensors" "$MC_TMP/model/model.safetensors" || mc_fail "fetch content"
[ "$(stat -c %h "$MC_TMP/fetched/model.safetensors")" -ge 2 ] || mc_fail "fetch did not hard-link"
# fetch onto another filesystem copies.
mkdir -p "$MC_TMP/shm" && mount -t tmpfs -o size=64m tmpfs "$MC_TMP/shm"
MC_CLEANUP+=("umount '$MC_TMP/shm'")
$B fetch "$pinned" "$MC_TMP/shm/models" --store "$S" -q 2>/dev/null > /dev/null
cmp "$MC_TMP/shm/models/model.safetensors" "$MC_TMP/model/model.safetensors" || mc_fail "copy content"

# store ls / df / verify.
$B store ls --store "$S" | mc_contains "$REGISTRY/m:v1" || mc_fail "store ls lacks the ref"
$B store df --store "$S" | mc_contains "images      1" || mc_fail "store df"
$B store verify --store "$S" | mc_contains "^OK" || mc_fail "verify"

# gc keeps the mounted image, removes it once unmounted.
$B store gc --store "$S" --max-size 0 --no-watermarks > "$MC_TMP/gc"
[ -d "$tree/models" ] || mc_fail "gc removed a mounted image"
mc_expect_fail $B store rm "$pinned" --store "$S"
grep -q "in use" <<<"$MC_ERR" || mc_fail "rm of a mounted image: $MC_ERR"
rm "$MC_TMP/mnt/models"
$B store gc --store "$S" --max-size 0 --no-watermarks > "$MC_TMP/gc"
grep -q "removed sha256:$digest" "$MC_TMP/gc" || mc_fail "gc did not evict the unmounted image: $(cat "$MC_TMP/gc")"
[ ! -e "$tree" ] || mc_fail "tree still there after gc"
cmp "$MC_TMP/fetched/model.safetensors" "$MC_TMP/model/model.safetensors" || mc_fail "fetched copy lost"

# gzip layers written by another builder (umoci), pulled through the restarted registry.
mc_start_registry
umoci init --layout "$MC_TMP/u" && umoci new --image "$MC_TMP/u:t"
umoci insert --image "$MC_TMP/u:t" "$MC_TMP/model/model.safetensors" /models/w.bin
umoci insert --image "$MC_TMP/u:t" "$MC_TMP/model/config.json" /models/config.json
skopeo copy -q --dest-tls-verify=false "oci:$MC_TMP/u:t" "docker://$REGISTRY/u:t"
target=$($B mount "$REGISTRY/u:t" "$MC_TMP/mnt2" --store "$S" -q)
cmp "$target/w.bin" "$MC_TMP/model/model.safetensors" || mc_fail "gzip layer content"
$B store verify "$REGISTRY/u:t" --store "$S" > /dev/null || mc_fail "verify of a gzip image"

# sidecar and prefetch-check (KServe's lines and exit codes).
$B sidecar --link "$MC_TMP/side/mnt/models" --target /models &
spid=$!
for _ in $(seq 50); do [ -L "$MC_TMP/side/mnt/models" ] && break; sleep 0.1; done
[ "$(readlink "$MC_TMP/side/mnt/models")" = "/proc/$spid/root/models" ] || mc_fail "sidecar link"
kill -TERM $spid
wait $spid || mc_fail "sidecar did not exit 0 on SIGTERM"
out=$($B prefetch-check "$MC_TMP/mnt2")
[ "$out" = "OK ... Prefetched and valid ($MC_TMP/mnt2 exists)" ] || mc_fail "prefetch-check: $out"
mkdir -p "$MC_TMP/empty"
if out=$($B prefetch-check "$MC_TMP/empty"); then mc_fail "prefetch-check accepted an empty dir"; fi
[[ $out == "NOK ... Prefetched but modelcar is invalid"* ]] || mc_fail "NOK line: $out"
echo PASS
