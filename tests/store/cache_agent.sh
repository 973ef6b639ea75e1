#!/usr/bin/env bash
# cache-agent against the real registry: pulls and pins the configured refs, gc keeps them,
# a ref removed from the config is released to gc, /healthz /status /metrics answer, SIGTERM stops.
source "$MODELCAR_SRC/tests/lib/common.sh"
B=$MODELCAR_BIN
mc_tmpdir
mc_start_registry
S=$MC_TMP/store
for i in 1 2; do
  mkdir -p "$MC_TMP/m$i"
  head -c 3000000 /dev/urandom > "$MC_TMP/m$i/model.safetensors"
  echo '{}' > "$MC_TMP/m$i/config.json"
  $B build "$MC_TMP/m$i" --layout "$MC_TMP/l$i:v1" > /dev/null 2>&1
  skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$MC_TMP/l$i:v1" "docker://$REGISTRY/m$i:v1"
done
printf '# refs to keep\n%s\n%s\n' "$REGISTRY/m1:v1" "$REGISTRY/m2:v1" > "$MC_TMP/refs.txt"
$B cache-agent --config "$MC_TMP/refs.txt" --store "$S" --status "$MC_TMP/status.json" --once
/usr/bin/python3 - "$MC_TMP/status.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
states = sorted(r["state"] for r in s["refs"])
assert states == ["present", "present"], s
assert all(r["lastVerify"] > 0 and r["bytes"] >= 3000000 for r in s["refs"]), s
PY
$B store gc --store "$S" --max-size 0 --no-watermarks > /dev/null
[ "$($B store ls --store "$S" | grep -c sha256:)" = 2 ] || mc_fail "gc evicted pinned refs"

# Drop m2 from the config: its pin goes, gc may evict it; m1 stays.
printf '%s\n' "$REGISTRY/m1:v1" > "$MC_TMP/refs.txt"
$B cache-agent --config "$MC_TMP/refs.txt" --store "$S" --status "$MC_TMP/status.json" --once
$B store gc --store "$S" --max-size 0 --no-watermarks > /dev/null
$B store ls --store "$S" | mc_contains "m1:v1" || mc_fail "m1 evicted"
$B store ls --store "$S" | mc_contains "m2:v1" && mc_fail "m2 still there after its pin was released"

# Served mode.
port=$(mc_free_port)
$B cache-agent --config "$MC_TMP/refs.txt" --store "$S" --listen "127.0.0.1:$port" --interval 1 \
  2> "$MC_TMP/agent.log" &
apid=$!
MC_CLEANUP+=("kill $apid 2>/dev/null")
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 0.1; done
[ "$(curl -sf "http://127.0.0.1:$port/healthz")" = ok ] || mc_fail "healthz"
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/status" | mc_contains '"present"' && break; sleep 0.1
done
curl -sf "http://127.0.0.1:$port/status" | mc_contains '"present"' || mc_fail "status"
curl -sf "http://127.0.0.1:$port/metrics" | mc_contains 'modelcar_cache_refs{state="present"} 1' || mc_fail "metrics"
# Config change picked up: add m2 back.
printf '%s\n%s\n' "$REGISTRY/m1:v1" "$REGISTRY/m2:v1" > "$MC_TMP/refs.txt"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/metrics" | mc_contains 'modelcar_cache_refs{state="present"} 2' && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/metrics" | mc_contains 'modelcar_cache_refs{state="present"} 2' || mc_fail "config reload"
kill -TERM $apid
wait $apid || mc_fail "cache-agent did not exit 0 on SIGTERM"
echo PASS
