# Helpers for the peer tests (source after tests/lib/common.sh).
#   peer_proxy [ARGS...]      starts registry_proxy.py in front of $REGISTRY (or $UPSTREAM when
#                             set); sets PROXY (host:port) and PROXY_PID (killed at exit).
#                             ARGS: --rate N, --no-range, --flip.
#   proxy_stat KEY            prints a counter of the proxy (blob_bytes, blob_gets, ...)
#   proxy_reset               zeroes the proxy's counters
#   peer_model DIR BYTES      a model directory with a BYTES-byte random weights file
#   peer_serve NAME STORE [ARGS...]  starts `modelcar store serve` on a free port; sets
#                             SERVE_URL_<NAME>, SERVE_PID_<NAME>; log in $MC_TMP/serve-NAME.log
#   wait_http URL             waits until URL answers (10 s)
PEER_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

peer_proxy() {
  local port; port=$(mc_free_port)
  /usr/bin/python3 "$PEER_LIB_DIR/registry_proxy.py" "$port" "${UPSTREAM:-$REGISTRY}" "$@" \
    2>> "$MC_TMP/proxy-$port.log" &
  PROXY_PID=$!
  MC_CLEANUP+=("kill $PROXY_PID 2>/dev/null")
  PROXY=127.0.0.1:$port
  wait_http "http://$PROXY/_proxy/stats"
}

proxy_stat() {
  curl -sf "http://$PROXY/_proxy/stats" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

proxy_reset() { curl -sf -X POST "http://$PROXY/_proxy/reset" > /dev/null; }

# peer_image_bytes PINNED: the blob bytes (config + layers) of the image PINNED (REG/REPO@DIGEST),
# read from the registry behind the proxy ($REGISTRY).
peer_image_bytes() {
  local ref=$1 repo; repo=${ref#*/}; repo=${repo%@*}
  curl -sf "http://$REGISTRY/v2/$repo/manifests/${ref#*@}" \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' |
    /usr/bin/python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["config"]["size"]+sum(l["size"] for l in m["layers"]))'
}

peer_model() {
  mkdir -p "$1"
  head -c "$2" /dev/urandom > "$1/model.safetensors"
  echo '{"model_type":"qwen2"}' > "$1/config.json"
}

wait_http() {
  local i
  for i in $(seq 1 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  mc_fail "$1 did not answer"
}

peer_serve() {
  local name=$1 store=$2; shift 2
  local port; port=$(mc_free_port)
  "$MODELCAR_BIN" store serve --store "$store" --listen "127.0.0.1:$port" "$@" \
    2>> "$MC_TMP/serve-$name.log" &
  local pid=$!
  MC_CLEANUP+=("kill $pid 2>/dev/null")
  printf -v "SERVE_PID_$name" '%s' "$pid"
  printf -v "SERVE_URL_$name" '%s' "http://127.0.0.1:$port"
  wait_http "http://127.0.0.1:$port/v2/"
}
