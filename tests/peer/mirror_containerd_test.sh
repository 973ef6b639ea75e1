#!/usr/bin/env bash
# `modelcar store serve` as a registry mirror: the distribution API by digest (manifests, blobs,
# HEAD, Range, fast 404, no tags), only pinned images, verified bytes (a corrupt tree is cut before
# the last byte), and containerd pulling through it with `ctr images pull --hosts-dir` (hosts.toml,
# capability pull): no blob crosses the registry link while the mirror serves, and containerd
# falls back to the registry when the mirror is gone or no longer holds the image.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/peer/lib.sh"
B=$MODELCAR_BIN
command -v containerd >/dev/null && command -v ctr >/dev/null ||
  mc_fail "containerd and ctr are not installed (scripts/setup test installs them)"
mc_tmpdir
mc_start_registry
peer_proxy
peer_model "$MC_TMP/model" 30000000
pinned=$($B build "$MC_TMP/model" --push "$PROXY/m:v1" 2>/dev/null)
[[ $pinned == "$PROXY/m@sha256:"* ]] || mc_fail "build --push printed '$pinned'"
mdigest=${pinned#*@}
S=$MC_TMP/store
$B pull "$pinned" --store "$S" 2>/dev/null >/dev/null
peer_serve A "$S"
A=$SERVE_URL_A
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# Not pinned: the store holds it but does not serve it.
[ "$(code "$A/v2/m/manifests/$mdigest")" = 404 ] || mc_fail "unpinned image served"
# Pinned by the cache agent: served (the index picks it up within its rescan interval).
echo "$pinned" > "$MC_TMP/refs.txt"
$B cache-agent --config "$MC_TMP/refs.txt" --store "$S" --once 2>/dev/null
for _ in $(seq 1 50); do
  [ "$(code "$A/v2/m/manifests/$mdigest")" = 200 ] && break
  sleep 0.1
done
curl -sf "$A/v2/m/manifests/$mdigest" > "$MC_TMP/manifest.json" || mc_fail "manifest not served"
curl -sf "http://$REGISTRY/v2/m/manifests/$mdigest" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' | cmp - "$MC_TMP/manifest.json" ||
  mc_fail "manifest bytes differ from the registry's"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$A/v2/")" = 200 ] || mc_fail "/v2/"
[ "$(code "$A/v2/m/manifests/v1")" = 404 ] || mc_fail "a tag was answered"
[ "$(code "$A/v2/m/tags/list")" = 404 ] || mc_fail "tags/list was answered"
[ "$(code -X DELETE "$A/v2/m/manifests/$mdigest")" = 405 ] || mc_fail "DELETE was not refused"
[ "$(code "$A/v2/m/blobs/sha256:$(printf x | sha256sum | cut -c1-64)")" = 404 ] ||
  mc_fail "unknown blob not 404"
layers=$(/usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))
print(" ".join(l["digest"]+"="+str(l["size"]) for l in m["layers"]))' "$MC_TMP/manifest.json")
big="" bigsize=0
for l in $layers; do
  d=${l%=*} size=${l#*=}
  head=$(curl -sfI "$A/v2/m/blobs/$d?ns=$PROXY") || mc_fail "HEAD $d"
  grep -qi "^content-length: $size" <<<"$head" || mc_fail "HEAD $d length: $head"
  grep -qi "^docker-content-digest: $d" <<<"$head" || mc_fail "HEAD $d digest: $head"
  got=$(curl -sf "$A/v2/m/blobs/$d" | sha256sum | cut -c1-64)
  [ "sha256:$got" = "$d" ] || mc_fail "GET $d hashes to $got"
  if (( size > bigsize )); then big=$d bigsize=$size; fi
done
# Ranges answer exactly the registry's bytes.
for r in 0-0 100-199 1000000-9999999 "$((bigsize - 10))-"; do
  curl -sf -H "Range: bytes=$r" "$A/v2/m/blobs/$big" > "$MC_TMP/a.part" || mc_fail "range $r"
  curl -sf -H "Range: bytes=$r" "http://$REGISTRY/v2/m/blobs/$big" | cmp - "$MC_TMP/a.part" ||
    mc_fail "range $r differs from the registry's"
done
[ "$(code -H "Range: bytes=$bigsize-" "$A/v2/m/blobs/$big")" = 416 ] || mc_fail "range past the end"

# An image pulled with registry credentials (a pull secret) is marked so; --private refuse keeps
# it out of the mirror.
# A registry with htpasswd auth (plain HTTP on loopback may carry credentials).
public_registry=$REGISTRY
htpasswd -Bbn alice secret-pw > "$MC_TMP/htpasswd" 2>/dev/null
mc_start_registry "auth: {htpasswd: {realm: modelcar-test, path: $MC_TMP/htpasswd}}"
echo "{\"auths\": {\"$REGISTRY\": {\"auth\": \"$(printf alice:secret-pw | base64)\"}}}" \
  > "$MC_TMP/auth.json"
private=$($B build "$MC_TMP/model" --push "$REGISTRY/p:v1" --authfile "$MC_TMP/auth.json" 2>/dev/null)
$B pull "$private" --store "$MC_TMP/private" --authfile "$MC_TMP/auth.json" > /dev/null 2>&1
grep -q '"pulledWithCredentials": true' "$MC_TMP"/private/trees/sha256/*/tree.json ||
  mc_fail "the credentials were not recorded"
grep -q 'pulledWithCredentials' "$S"/trees/sha256/*/tree.json && mc_fail "public image marked private"
peer_serve P "$MC_TMP/private" --serve all --private refuse
[ "$(code "$SERVE_URL_P/v2/m/manifests/${private#*@}")" = 404 ] || mc_fail "--private refuse served"
peer_serve Q "$MC_TMP/private" --serve all
[ "$(code "$SERVE_URL_Q/v2/m/manifests/${private#*@}")" = 200 ] || mc_fail "--serve all refused"
kill "$SERVE_PID_P" "$SERVE_PID_Q"
REGISTRY=$public_registry

# containerd with its own root; content is not shared between namespaces, so each pull below
# downloads every blob again.
D=$MC_TMP/containerd
mkdir -p "$D"
cat > "$D/config.toml" <<EOF2
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd-ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/opt"
EOF2
containerd --config "$D/config.toml" > "$D/log" 2>&1 &
cpid=$!
MC_CLEANUP+=("kill $cpid 2>/dev/null; wait $cpid 2>/dev/null; findmnt -rn -o TARGET | grep '^$D/' | sort -r | xargs -r -n1 umount -l")
c() { ctr -a "$D/containerd.sock" "$@"; }
for _ in $(seq 1 100); do
  c version >/dev/null 2>&1 && break
  kill -0 "$cpid" 2>/dev/null || { cat "$D/log" >&2; mc_fail "containerd exited"; }
  sleep 0.1
done
# hosts.toml for the registry's host: the mirror first (pull only), the registry as the server.
H=$MC_TMP/hosts.d
write_hosts() {
  mkdir -p "$H/$PROXY"
  cat > "$H/$PROXY/hosts.toml" <<EOF2
server = "http://$PROXY"

[host."$1"]
  capabilities = ["pull"]
EOF2
}
write_hosts "$A"
ctr_pull() {  # NAMESPACE: pulls $pinned through the hosts dir
  c -n "$1" images pull --plain-http --hosts-dir "$H" "$pinned" > "$MC_TMP/ctr-$1.log" 2>&1
}
mirror_bytes() { curl -sf "$1/metrics" | sed -n 's/^modelcar_mirror_bytes_total //p'; }

proxy_reset
before=$(mirror_bytes "$A")
ctr_pull ns1 || mc_fail "ctr pull through the mirror: $(cat "$MC_TMP/ctr-ns1.log")"
[ "$(proxy_stat blob_gets)" = 0 ] || mc_fail "blobs crossed the registry link: $(proxy_stat blob_gets)"
served=$(( $(mirror_bytes "$A") - before ))
(( served >= bigsize )) || mc_fail "the mirror served $served bytes"
c -n ns1 content ls | mc_contains "${big#sha256:}" || mc_fail "containerd lacks the big layer"
echo "mirror: containerd pulled the image with 0 registry blob GETs ($served bytes from the mirror)"

# The mirror gone: containerd falls back to the registry.
kill "$SERVE_PID_A"; wait "$SERVE_PID_A" 2>/dev/null || true
proxy_reset
ctr_pull ns2 || mc_fail "ctr pull with the mirror down: $(cat "$MC_TMP/ctr-ns2.log")"
(( $(proxy_stat blob_gets) > 0 )) || mc_fail "fallback pull did not use the registry"

# A corrupt tree: the mirror cuts the transfer before its last byte (a client sees a short body);
# once `store verify` marks the tree corrupt it is no longer served, and containerd falls back.
peer_serve A2 "$S"
A=$SERVE_URL_A2
write_hosts "$A"
f=$S/trees/sha256/${mdigest#sha256:}/rootfs/models/model.safetensors
chmod u+w "$f"
printf '\x00\x01\x02' | dd of="$f" bs=1 seek=20000000 conv=notrunc status=none
rc=0
curl -s -o "$MC_TMP/cut.bin" "$A/v2/m/blobs/$big" || rc=$?
[ "$rc" = 18 ] || mc_fail "curl of a corrupt layer exited $rc, expected 18 (partial transfer)"
body=$(stat -c %s "$MC_TMP/cut.bin")
(( body < bigsize )) || mc_fail "a corrupt layer was served whole ($body bytes)"
grep -q "cut after" "$MC_TMP/serve-A2.log" || mc_fail "the cut was not logged"
$B store verify --store "$S" > /dev/null 2>&1 && mc_fail "verify missed the corruption"
for _ in $(seq 1 60); do
  [ "$(code "$A/v2/m/blobs/$big")" = 404 ] && break
  sleep 0.1
done
[ "$(code "$A/v2/m/blobs/$big")" = 404 ] || mc_fail "a tree marked corrupt is still served"
proxy_reset
ctr_pull ns3 || mc_fail "ctr pull with a corrupt mirror: $(cat "$MC_TMP/ctr-ns3.log")"
(( $(proxy_stat blob_gets) > 0 )) || mc_fail "the corrupt mirror was used"

# The cache agent as the node's mirror: it repairs the corrupt image (pulls it again, pins it),
# serves it on its listener, and points containerd at itself in the hosts dir (the file above is
# backed up, its server kept); SIGTERM puts the previous configuration back.
cp "$H/$PROXY/hosts.toml" "$MC_TMP/hosts.before"
aport=$(mc_free_port)
$B cache-agent --config "$MC_TMP/refs.txt" --store "$S" --listen "127.0.0.1:$aport" --mirror \
  --containerd-hosts "$H" --mirror-registries "$PROXY" --interval 3600 2> "$MC_TMP/agent.log" &
apid=$!
MC_CLEANUP+=("kill $apid 2>/dev/null")
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$aport/status" 2>/dev/null | mc_contains '"present"' && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$aport/status" | mc_contains '"present"' || mc_fail "agent: $(cat "$MC_TMP/agent.log")"
grep -q "127.0.0.1:$aport" "$H/$PROXY/hosts.toml" || mc_fail "agent hosts.toml: $(cat "$H/$PROXY/hosts.toml")"
grep -q "server = \"http://$PROXY\"" "$H/$PROXY/hosts.toml" || mc_fail "server not kept"
cmp "$H/_backup/$PROXY/hosts.toml" "$MC_TMP/hosts.before" || mc_fail "backup differs"
proxy_reset
ctr_pull ns4 || mc_fail "ctr pull through the agent: $(cat "$MC_TMP/ctr-ns4.log")"
[ "$(proxy_stat blob_gets)" = 0 ] || mc_fail "blobs crossed the registry link with the agent as mirror"
kill -TERM "$apid"
wait "$apid" || mc_fail "agent exit: $(cat "$MC_TMP/agent.log")"
cmp "$H/$PROXY/hosts.toml" "$MC_TMP/hosts.before" || mc_fail "hosts.toml not restored"
[ ! -e "$H/_backup" ] || mc_fail "backup left behind"
echo "PASS mirror_containerd_test"
