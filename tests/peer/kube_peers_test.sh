#!/usr/bin/env bash
# `cache-agent --peer-service`: cache agents (each its own store, --mirror on 127.0.0.1, NODE_NAME,
# a service account dir with token, ca.crt and namespace) find each other in the EndpointSlices of
# their Service, read before every reconcile from kube_api_double.py (a test double standing in for
# the Kubernetes API server, which cannot run here: HTTPS with a self-signed CA, bearer token
# checked, slices rewritten mid-test). The model comes from the real docker-registry behind the
# counting proxy. Checks:
#   - a first agent pulls from the registry; the next ones take the layers from the agents their
#     slices list (registry bytes stay ~1x the image), this node's zone first (the other zone's
#     mirror serves nothing), their own endpoint left out;
#   - slices that change mid-test (an endpoint not ready, one removed, one added) are followed;
#   - a refused token and a down API: the last list stays, the error is logged once; an agent that
#     never had a list pulls from the registry; when the API is back the agents read it again;
#   - the token never appears in a log.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/peer/lib.sh"
B=$MODELCAR_BIN
mc_tmpdir
mc_start_registry
peer_proxy
REG=$PROXY
layer=24000000
peer_model "$MC_TMP/model" $layer
pinned=$($B build "$MC_TMP/model" --push "$REG/m:v1" 2>/dev/null)
[[ $pinned == "$REG/m@sha256:"* ]] || mc_fail "build --push printed '$pinned'"
echo "$pinned" > "$MC_TMP/refs.txt"
image=$(peer_image_bytes "$pinned")
reg_bytes() { PROXY=$REG proxy_stat blob_bytes; }

# The service account and the API double.
TOKEN=kube-peers-test-token-7f3a9c
sa=$MC_TMP/sa
mkdir -p "$sa"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=api \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$MC_TMP/api.key" -out "$sa/ca.crt" 2>/dev/null ||
  mc_fail "openssl req"
echo "$TOKEN" > "$sa/token"
echo modelcar-test > "$sa/namespace"
echo "$TOKEN" > "$MC_TMP/api-token"  # the token the double accepts
api_port=$(mc_free_port)
api_up() {
  /usr/bin/python3 "$MODELCAR_SRC/tests/peer/kube_api_double.py" "$api_port" "$sa/ca.crt" \
    "$MC_TMP/api.key" "$MC_TMP/api-token" "$MC_TMP/slices.json" modelcar-test agents \
    2>> "$MC_TMP/api.log" &
  API_PID=$!
  MC_CLEANUP+=("kill $API_PID 2>/dev/null")
  for _ in $(seq 1 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$api_port/" && return 0
    sleep 0.1
  done
  mc_fail "the API double did not start"
}

# Agents: name -> node, zone and mirror port.
declare -A NODE PORT ZONE
for n in a b c d e; do NODE[$n]=node-$n PORT[$n]=$(mc_free_port); done
ZONE=([a]=zone-1 [b]=zone-2 [c]=zone-2 [d]=zone-2 [e]=zone-1)
url() { echo "http://127.0.0.1:${PORT[$1]}"; }
# urls NAME...: their URLs in the order of peers of one zone (same address: by port), joined by ','.
urls() { for n in "$@"; do echo "${PORT[$n]} $(url "$n")"; done | sort -n | cut -d' ' -f2 | paste -sd, -; }

# slices NAME[:notready]...: one EndpointSlice per agent (each listens on its own port here, where
# in a cluster every pod has its own IP and the Service one port).
slices() {
  /usr/bin/python3 - "$@" > "$MC_TMP/slices.tmp" <<PY
import json, sys
port = dict(a=${PORT[a]}, b=${PORT[b]}, c=${PORT[c]}, d=${PORT[d]}, e=${PORT[e]})
zone = dict(a="${ZONE[a]}", b="${ZONE[b]}", c="${ZONE[c]}", d="${ZONE[d]}", e="${ZONE[e]}")
items = []
for arg in sys.argv[1:]:
    name, _, cond = arg.partition(":")
    ready = cond != "notready"
    items.append({"metadata": {"name": "agents-" + name}, "addressType": "IPv4",
                  "endpoints": [{"addresses": ["127.0.0.1"], "nodeName": "node-" + name,
                                 "zone": zone[name], "targetRef": {"kind": "Pod", "uid": "uid-" + name},
                                 "conditions": {"ready": ready, "serving": ready, "terminating": False}}],
                  "ports": [{"name": "mirror", "port": port[name], "protocol": "TCP"}]})
print(json.dumps({"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1", "items": items}))
PY
  mv "$MC_TMP/slices.tmp" "$MC_TMP/slices.json"
}

agent() {  # agent NAME: a cache agent with the peers of the Service "agents"
  local n=$1
  NODE_NAME=${NODE[$n]} MODELCAR_KUBE_API=https://127.0.0.1:$api_port MODELCAR_KUBE_SA_DIR=$sa \
    "$B" cache-agent --config "$MC_TMP/refs.txt" --store "$MC_TMP/store-$n" --mirror \
    --listen "127.0.0.1:${PORT[$n]}" --interval 1 --peer-service agents \
    2>> "$MC_TMP/agent-$n.log" &
  MC_CLEANUP+=("kill $! 2>/dev/null")
  wait_http "$(url "$n")/healthz"
}
# status NAME EXPR: EXPR of the agent's status JSON s (Python), e.g. 's["peers"]["urls"]'.
status() {
  curl -sf "$(url "$1")/status" |
    /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($2, sep=',')"
}
# wait_status NAME EXPR WANT: waits (60 s) until EXPR prints WANT.
wait_status() {
  local got=
  for _ in $(seq 1 600); do
    got=$(status "$1" "$2" 2>/dev/null || true)
    [ "$got" = "$3" ] && return 0
    sleep 0.1
  done
  tail -5 "$MC_TMP/agent-$1.log" >&2
  mc_fail "agent $1: $2 is '$got', want '$3'"
}
ref_state='s["refs"][0]["state"]'
peer_urls='",".join(s["peers"]["urls"])'
mirror_bytes() { curl -sf "$(url "$1")/metrics" | sed -n 's/^modelcar_mirror_bytes_total //p'; }

api_up

# 1. a, alone in the Service, pulls from the registry; its own endpoint is no peer.
slices a
agent a
wait_status a "$ref_state" present
wait_status a "$peer_urls,s['peers']['known'],s['peers']['zone']" ",True,zone-1"
(( $(reg_bytes) >= layer )) || mc_fail "a took only $(reg_bytes) bytes from the registry"
reg_a=$(reg_bytes)

# 2. b (zone-2) finds a in the slices and takes every layer byte from it; a follows (b appears).
slices a b
agent b
wait_status b "$ref_state" present
wait_status b "$peer_urls" "$(url a)"
(( $(status b 's["refs"][0]["peerBytes"]') >= layer )) || mc_fail "b: $(status b 's["refs"]')"
(( $(reg_bytes) - reg_a < 1000000 )) || mc_fail "b took $(( $(reg_bytes) - reg_a )) registry bytes"
wait_status a "$peer_urls" "$(url b)"
echo "kube_peers: b took $(status b 's["refs"][0]["peerBytes"]') bytes from a"

# 3. c (zone-2) sees a (zone-1) and b (zone-2): same zone first, so b serves it all and a nothing.
slices a b c
a0=$(mirror_bytes a) b0=$(mirror_bytes b)
agent c
wait_status c "$ref_state" present
wait_status c "$peer_urls,s['peers']['near']" "$(url b),$(url a),1"
(( $(status c 's["refs"][0]["peerBytes"]') >= layer )) || mc_fail "c: $(status c 's["refs"]')"
sleep 0.5  # a mirror counts a response's bytes after its last write
da=$(( $(mirror_bytes a) - a0 )) db=$(( $(mirror_bytes b) - b0 ))
(( db >= layer && da < 1000000 )) || mc_fail "c: $db bytes from b (same zone), $da from a (other zone)"
total=$(reg_bytes)
(( total < image * 105 / 100 )) || mc_fail "3 agents took $total registry bytes for a $image-byte image"
echo "kube_peers: c took $db bytes from b (its zone), $da from a; registry $total bytes for 3 agents ($image-byte image)"

# 4. The slices change: a not ready, c removed, d (zone-2, not running) added; then a ready again.
slices a:notready b d
wait_status b "$peer_urls" "$(url d)"
slices a b d
wait_status b "$peer_urls,s['peers']['near']" "$(url d),$(url a),1"
echo "kube_peers: b followed the slices"

# 5. The API refuses the token: the last list stays, the error is logged once.
echo other-token > "$MC_TMP/api-token"
wait_status b "'HTTP 401' in s['peers']['error']" True
sleep 2.5  # two more reconciles
[ "$(status b "$peer_urls")" = "$(url d),$(url a)" ] || mc_fail "b lost its list: $(status b 's["peers"]')"
n401=$(grep -c "HTTP 401" "$MC_TMP/agent-b.log" || true)
[ "$n401" = 1 ] || mc_fail "b logged the 401 $n401 times: $(grep 401 "$MC_TMP/agent-b.log")"
echo "$TOKEN" > "$MC_TMP/api-token"
wait_status b "s['peers']['error']" ""

# 6. The API is down: b keeps its list; e, which never had one, pulls from the registry.
kill "$API_PID"
wait "$API_PID" 2>/dev/null || true
wait_status b "s['peers']['error'] != ''" True
slices a b c d e  # not served while the API is down
reg0=$(reg_bytes)
agent e
wait_status e "$ref_state" present
wait_status e "s['peers']['known'],len(s['peers']['urls'])" "False,0"
(( $(reg_bytes) - reg0 >= layer )) || mc_fail "e took $(( $(reg_bytes) - reg0 )) registry bytes"
[ "$(status b "$peer_urls")" = "$(url d),$(url a)" ] || mc_fail "b lost its list: $(status b 's["peers"]')"
grep -q "pulls use the registry alone until a read works" "$MC_TMP/agent-e.log" ||
  mc_fail "e: $(cat "$MC_TMP/agent-e.log")"

# 7. The API is back: every agent reads it again (e in zone-1: a first).
api_up
wait_status e "$peer_urls,s['peers']['error']" "$(url a),$(urls b c d),"
wait_status b "$peer_urls" "$(urls c d),$(urls a e)"
echo "kube_peers: the agents kept their lists while the API was down and read it again after"

for n in a b c e; do
  $B store verify --store "$MC_TMP/store-$n" > /dev/null 2>&1 || mc_fail "store verify on $n"
done
if grep -l -F "$TOKEN" "$MC_TMP"/agent-*.log "$MC_TMP/api.log"; then mc_fail "the token is in a log"; fi
echo "kube_peers_test: ok"
