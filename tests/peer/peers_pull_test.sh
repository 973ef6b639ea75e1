#!/usr/bin/env bash
# Pulls that ask peers first: `pull --store --peers` takes layers from other nodes' `store serve`,
# piece by piece (rendezvous-spread over every holder), each piece checked against the holder's
# piece list, the registry (the real docker-registry behind a counting proxy) supplying only what
# the peers do not. Faults: a peer that flips bytes (a proxy with --flip in front of a real mirror),
# a peer killed mid-transfer while the registry ignores Range, a dead peer in the list. Every tree
# is checked with `store verify`.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/peer/lib.sh"
B=$MODELCAR_BIN
mc_tmpdir
mc_start_registry
peer_proxy
REG=$PROXY REG_PID=$PROXY_PID
peer_model "$MC_TMP/model" 40000000
pinned=$($B build "$MC_TMP/model" --push "$REG/m:v1" 2>/dev/null)
[[ $pinned == "$REG/m@sha256:"* ]] || mc_fail "build --push printed '$pinned'"
reg_bytes() { PROXY=$REG proxy_stat blob_bytes; }
reg_reset() { PROXY=$REG proxy_reset; }
mirror_bytes() { curl -sf "$1/metrics" | sed -n 's/^modelcar_mirror_bytes_total //p'; }
# node NAME PEERS: pulls into $MC_TMP/NAME with --peers PEERS; the summary line in $MC_TMP/NAME.log.
node() {
  $B pull "$pinned" --store "$MC_TMP/$1" --peers "$2" > /dev/null 2> "$MC_TMP/$1.log" ||
    mc_fail "pull on $1: $(cat "$MC_TMP/$1.log")"
  $B store verify --store "$MC_TMP/$1" > /dev/null 2>&1 || mc_fail "store verify on $1"
}
from_peers() { sed -nE 's/.*fetched [0-9]+ bytes \(([0-9]+) from peers\).*/\1/p' "$MC_TMP/$1.log"; }

# Node a pulls from the registry and serves its store.
$B pull "$pinned" --store "$MC_TMP/a" > /dev/null 2>&1 || mc_fail "pull on a"
peer_serve A "$MC_TMP/a" --serve all
layer=40000000  # at least the weights file's bytes are in the big layer

# Node b: every layer byte from a; the registry sends the config only.
reg_reset
node b "$SERVE_URL_A"
(( $(reg_bytes) < 100000 )) || mc_fail "b took $(reg_bytes) bytes from the registry"
(( $(from_peers b) >= layer )) || mc_fail "b: $(cat "$MC_TMP/b.log")"
echo "peers: b pulled $(from_peers b) bytes from a, $(reg_bytes) from the registry"

# Node c asks a and b (and a peer that is gone): the pieces of the big layer come from both.
# Which peer owns a piece follows from its URL (rendezvous): the layer's 5 pieces of 8 MiB all go
# to one of two peers for 1 in 16 port pairs, so b is served again on a new port until the pieces
# are split (5 tries: a pull that never splits them fails with probability 1e-6).
dead=http://127.0.0.1:1  # port 1: nothing listens (a free port may be taken by a parallel test)
for attempt in 1 2 3 4 5; do
  peer_serve B "$MC_TMP/b" --serve all
  a0=$(mirror_bytes "$SERVE_URL_A") b0=$(mirror_bytes "$SERVE_URL_B")
  reg_reset
  rm -rf "$MC_TMP/c"
  node c "$SERVE_URL_A,$dead,$SERVE_URL_B"
  (( $(reg_bytes) < 100000 )) || mc_fail "c took $(reg_bytes) bytes from the registry"
  da=$(( $(mirror_bytes "$SERVE_URL_A") - a0 )) db=$(( $(mirror_bytes "$SERVE_URL_B") - b0 ))
  (( da > 0 && db > 0 )) && break
  kill "$SERVE_PID_B"
done
(( da > 0 && db > 0 )) || mc_fail "c: pieces from a: $da bytes, from b: $db bytes (both expected)"
(( da + db >= layer )) || mc_fail "c: $da + $db bytes from peers"
grep -q "peer $dead not ready" "$MC_TMP/c.log" || mc_fail "the dead peer was not reported: $(cat "$MC_TMP/c.log")"
echo "peers: c pulled $da bytes from a and $db from b, $(reg_bytes) from the registry"

# A lying peer (a proxy that flips a byte of every blob answer of a): its pieces fail their
# hash before any byte is used; b supplies them instead.
# Which pieces a peer owns follows from its URL (rendezvous): a liar whose random port gives it
# none of the few pieces is never asked, so the pull runs again with a new liar until one is.
for attempt in 1 2 3 4 5; do
  UPSTREAM=${SERVE_URL_A#http://} peer_proxy --flip
  LIAR=http://$PROXY
  reg_reset
  rm -rf "$MC_TMP/d"
  node d "$LIAR,$SERVE_URL_B"
  [ "$(proxy_stat blob_gets)" != 0 ] && break
  kill "$PROXY_PID"
done
grep -q "peer $LIAR dropped: piece .* does not match its hash" "$MC_TMP/d.log" ||
  mc_fail "the liar was not caught ($(proxy_stat blob_gets) blob GETs to it): $(cat "$MC_TMP/d.log")"
(( $(reg_bytes) < 100000 )) || mc_fail "d took $(reg_bytes) bytes from the registry"
(( $(from_peers d) >= layer )) || mc_fail "d: $(cat "$MC_TMP/d.log")"
# Only the liar: everything comes from the registry, and the tree still verifies.
reg_reset
node e "$LIAR"
(( $(reg_bytes) >= layer )) || mc_fail "e took only $(reg_bytes) bytes from the registry"
[ "$(from_peers e)" = 0 ] || mc_fail "e used bytes of the liar: $(cat "$MC_TMP/e.log")"

# A peer killed mid-transfer (a slow link to a, cut after a few pieces), with a registry that
# ignores Range: the registry sends the whole layer and the pull drops the prefix it already has.
UPSTREAM=${SERVE_URL_A#http://} peer_proxy --rate 8000000
SLOW=http://$PROXY SLOW_PID=$PROXY_PID
peer_proxy --no-range
NR=$PROXY
nr_pinned=$NR/m@${pinned#*@}
$B pull "$nr_pinned" --store "$MC_TMP/f" --peers "$SLOW" > /dev/null 2> "$MC_TMP/f.log" &
fpid=$!
for _ in $(seq 1 100); do
  (( $(PROXY=${SLOW#http://} proxy_stat blob_bytes) > 16000000 )) && break
  sleep 0.1
done
kill "$SLOW_PID"
wait "$fpid" || mc_fail "pull on f after its peer died: $(cat "$MC_TMP/f.log")"
$B store verify --store "$MC_TMP/f" > /dev/null 2>&1 || mc_fail "store verify on f"
got=$(from_peers f)
(( got > 0 && got < layer )) || mc_fail "f: $got bytes from the killed peer: $(cat "$MC_TMP/f.log")"
nr=$(PROXY=$NR proxy_stat blob_bytes)
(( nr >= layer )) || mc_fail "the registry without Range sent only $nr bytes"
echo "peers: f got $got bytes from a peer killed mid-transfer, the rest from a registry without Range"
echo "peers_pull_test: ok"
