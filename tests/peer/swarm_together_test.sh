#!/usr/bin/env bash
# Nodes that cold-start together (peer/swarm.h): 4 store instances, each with its own
# `store serve`, pull one image at the same time with the same --peers list (their own serve
# included) through a registry link throttled by the counting proxy. Each piece has one owner, only
# the owner fetches it from the registry, the others take it from the owner's spool while the
# owner is still receiving the layer. Checks: registry blob bytes <= 1.05 x the image's blob bytes;
# every tree passes `store verify`; a peer that flips bytes and a peer killed mid-transfer cost
# registry bytes, never a tree that fails verification.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/peer/lib.sh"
B=$MODELCAR_BIN
mc_tmpdir
mc_start_registry
peer_proxy --rate 16000000
REG=$PROXY
peer_model "$MC_TMP/model" 64000000
pinned=$($B build "$MC_TMP/model" --push "$REG/m:v1" 2>/dev/null)
[[ $pinned == "$REG/m@sha256:"* ]] || mc_fail "build --push printed '$pinned'"
image=$(peer_image_bytes "$pinned")
reg_bytes() { PROXY=$REG proxy_stat blob_bytes; }
ratio() { /usr/bin/python3 -c "print(f'{$1/$image:.3f}')"; }
# What the nodes of rounds NAME* dropped or excluded.
events() { grep -hE "dropped|excluded|again from the registry" "$MC_TMP/$1"*.log | head -40 || true; }
# at_most WHAT NAME PERCENT: the last round's registry bytes are at most PERCENT % of the image.
# How many bytes a round costs is a matter of timing when a peer was too slow (a stalled answer, a
# pending piece without progress, a piece still absent after the grace): the pieces it owned are
# fetched again, which is the design's answer to a slow peer. Such a round (seen under TSan on a
# loaded machine) is reported, not failed; every other round must meet the bound. Correctness
# (`store verify` of every tree, in round) is checked in every round.
at_most() {
  local what=$1 name=$2 pct=$3 bytes; bytes=$(reg_bytes)
  echo "swarm: $what: $(ratio "$bytes")x of the image from the registry"
  (( bytes * 100 <= image * pct )) && return 0
  if events "$name" | mc_contains -E "stalled|no piece for|absent there"; then
    echo "swarm: $what: over ${pct}% because a peer was slow (timing; not asserted): $(events "$name")"
    return 0
  fi
  mc_fail "$what: $bytes registry bytes for a $image-byte image (> ${pct}%): $(events "$name")"
}
from_peers() { sed -nE 's/.*fetched [0-9]+ bytes \(([0-9]+) from peers\).*/\1/p' "$1"; }

# round NAME N [LIAR] [KILL]: N fresh nodes NAME1..NAMEN, each with a `store serve` (default:
# serves pinned trees only, so every peer byte comes from a spool), pull at once with --peers of
# every serve. LIAR=1: the others reach node N through a proxy that flips the first byte of every
# blob answer (LIAR=2: and sends the hash of the altered piece). KILL=1: node N (its pull and its serve) is killed with SIGKILL once a third of the
# image has left the registry. Sets URLS and PULL_PIDS; waits for the pulls (but the killed one).
round() {
  local name=$1 n=$2 liar=${3:-0} kill=${4:-0} i urls=() pids=() spids=()
  for i in $(seq 1 "$n"); do
    peer_serve "$name$i" "$MC_TMP/$name$i"
    local v="SERVE_URL_$name$i" p="SERVE_PID_$name$i"
    urls+=("${!v}") spids+=("${!p}")
  done
  if [ "$liar" != 0 ]; then
    local mode=--flip
    [ "$liar" = 2 ] && mode=--lie
    UPSTREAM=${urls[$((n - 1))]#http://} peer_proxy $mode
    urls[$((n - 1))]=http://$PROXY
  fi
  local list; list=$(IFS=,; echo "${urls[*]}")
  PROXY=$REG proxy_reset
  local t0; t0=$(date +%s.%N)
  for i in $(seq 1 "$n"); do
    $B pull "$pinned" --store "$MC_TMP/$name$i" --peers "$list" > /dev/null \
      2> "$MC_TMP/$name$i.log" &
    pids+=($!)
  done
  if [ "$kill" = 1 ]; then
    for _ in $(seq 1 300); do
      (( $(reg_bytes) * 3 > image )) && break
      sleep 0.05
    done
    kill -9 "${pids[$((n - 1))]}" "${spids[$((n - 1))]}"
    wait "${pids[$((n - 1))]}" "${spids[$((n - 1))]}" 2>/dev/null || true
    echo "swarm: killed $name$n after $(reg_bytes) registry bytes"
  fi
  for i in $(seq 1 "$n"); do
    [ "$kill" = 1 ] && [ "$i" = "$n" ] && continue
    wait "${pids[$((i - 1))]}" || mc_fail "pull on $name$i: $(cat "$MC_TMP/$name$i.log")"
  done
  ROUND_SECONDS=$(/usr/bin/python3 -c "print(f'{$(date +%s.%N)-$t0:.2f}')")
  local self_fed=0
  for i in $(seq 1 "$n"); do
    [ "$kill" = 1 ] && [ "$i" = "$n" ] && continue
    $B store verify --store "$MC_TMP/$name$i" > /dev/null 2>&1 || mc_fail "store verify on $name$i"
    [ "$liar" = 2 ] || (( $(from_peers "$MC_TMP/$name$i.log") > 0 )) || {
      self_fed=$((self_fed + 1))
      (( self_fed <= ${SELF_FED_MAX:-0} )) ||
        mc_fail "$name$i took nothing from peers: $(cat "$MC_TMP/$name$i.log")"
      echo "swarm: $name$i took every layer from the registry (allowed: $SELF_FED_MAX)"
    }
  done
}

# One node alone, then 4 nodes together: the registry sends the image about once. (The times are
# printed for the record, not asserted: bench/p2p.sh measures them.)
t0=$(date +%s.%N)
$B pull "$pinned" --store "$MC_TMP/alone" > /dev/null 2>&1 || mc_fail "pull alone"
t1=$(date +%s.%N)
round t 4
echo "swarm: one node alone $(/usr/bin/python3 -c "print(f'{$t1-$t0:.2f}')") s, 4 together $ROUND_SECONDS s"
at_most "4 nodes together" t 105

# Which pieces a node owns follows from the random ids of the stores (rendezvous): a faulty node
# that owns none of the image's ~10 pieces (about 1 round in 18) is never asked, so a round whose
# fault went unnoticed runs again with new stores (5 tries).
# faulty NAME N LIAR [KILL]: `round NAME<try> N LIAR KILL` until $FAULT_SEEN (an ERE) shows in
# the log of a good node.
faulty() {
  local name=$1 attempt; shift
  for attempt in 1 2 3 4 5; do
    round "$name$attempt" "$@"
    grep -qE "$FAULT_SEEN" "$MC_TMP/$name$attempt"[123].log && return 0
  done
  mc_fail "$name: the fault was never noticed: $(cat "$MC_TMP/$name$attempt"[123].log)"
}

# A lying peer: its pieces fail their hash at the others, which drop it and take its pieces from
# the next owner; every tree verifies. The liar's share is fetched twice at most.
FAULT_SEEN="dropped: piece .* does not match its hash" faulty l 4 1
at_most "with a lying peer" l 200

# A peer that lies consistently (its altered pieces come with their own hash): the layer digest
# fails at every node that took one of them, the store discards the unverified tree, and the image
# is pulled again from the registry alone. Costly, but nothing unverified is committed.
FAULT_SEEN="pulling again from the registry alone" faulty c 4 2
echo "swarm: with a consistent liar, $(ratio "$(reg_bytes)")x of the image from the registry"

# A peer killed mid-transfer: the others drop it and fetch what it owned.
FAULT_SEEN="dropped" faulty k 4 0 1
at_most "with a peer killed mid-transfer" k 200

# A registry that ignores Range: the first piece Range of each fetcher gets the whole blob (cut
# after its headers); then piece 0's owner streams the blob once for everyone. A node that was
# first to stream every layer takes the whole image from the registry and nothing from peers
# (seen once under TSan in CI), so one node may take nothing from peers here; the byte bound
# below still applies to the round.
peer_proxy --rate 16000000 --no-range
NR=$PROXY
pinned_ranged=$pinned REG_RANGED=$REG
pinned=$NR/m@${pinned#*@} REG=$NR
SELF_FED_MAX=1 round r 4
grep -q "the registry ignores Range" "$MC_TMP"/r*.log || mc_fail "no-range not noticed: $(cat "$MC_TMP"/r*.log)"
at_most "4 nodes together, registry without Range" r 200
pinned=$pinned_ranged REG=$REG_RANGED
echo "swarm_together_test: ok"
