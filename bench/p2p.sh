#!/usr/bin/env bash
# N nodes pulling one model through one throttled registry link, with and without peers.
#   bench/p2p.sh [SIZE_MIB] [RATE_MB_S] [ROUNDS]     (defaults 256, 40, 3)
# The real docker-registry sits behind tests/peer/registry_proxy.py --rate (the registry link);
# every node is a store directory with its own `modelcar store serve --serve all`. For N = 1, 2, 4,
# 8 and each mode, prints registry egress / image bytes and the time until every node has a
# committed, verified tree (median and spread of ROUNDS rounds, the modes interleaved per round):
#   independent  N pulls at once, no peers (what N nodes do today)
#   together     N pulls at once, each with the same --peers list of every node's serve (its own
#                is recognised by its store id and skipped): a cold start of N nodes; each piece is
#                fetched from the registry by its owner only (docs/peers.md, peer/swarm.h), so the
#                egress should stay near 1.0 (target <= 1.05) and the time near one node's (<= 1.5x)
#   seeded       one node pulls, then N-1 pull at once with --peers of the seed and each other
# P2P_MODES (default "independent together seeded") picks the modes for N > 1; N = 1 always runs
# `independent`, the time every ratio is about (independent N costs N x by construction, which
# makes big images slow to measure). P2P_NODES (default "1 2 4 8") picks the N.
# "cpu busy" is the share of the machine's CPU time spent by processes at nice 0 or below during
# the pulls (/proc/stat: user + system + irq + softirq over all); near 100% means the N nodes
# sharing this machine's cores, not the registry link, set the time.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-256} rate_mb=${2:-40} rounds=${3:-3}
modes=${P2P_MODES:-independent together seeded}
"$here/scripts/setup" test >/dev/null
MODELCAR_BIN=${MODELCAR_BIN:-$("$here/scripts/build" "${MODELCAR_BENCH_BUILD:-release}" modelcar)/modelcar}
export MODELCAR_BIN MODELCAR_SRC=$here
source "$here/tests/lib/common.sh"
source "$here/tests/peer/lib.sh"
B=$MODELCAR_BIN
mc_tmpdir
mc_start_registry
peer_proxy --rate $((rate_mb * 1000000))
peer_model "$MC_TMP/model" $((size * 1048576))
pinned=$($B build "$MC_TMP/model" --push "$PROXY/m:v1" 2>/dev/null)
image=$(peer_image_bytes "$pinned")
now() { date +%s.%N; }
# cpu_ticks: "busy total" ticks of all CPUs so far (busy leaves out nice, idle, iowait and steal).
cpu_ticks() { awk '/^cpu / { print $2 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# run MODE N: prints "egress_ratio seconds"
run() {
  local mode=$1 n=$2 urls=() pids=() i
  rm -rf "$MC_TMP/nodes"; mkdir -p "$MC_TMP/nodes"
  for i in $(seq 1 "$n"); do
    mkdir -p "$MC_TMP/nodes/$i"
    peer_serve "n$i" "$MC_TMP/nodes/$i" --serve all
    local v="SERVE_URL_n$i"; urls+=("${!v}")
    local p="SERVE_PID_n$i"; pids+=("${!p}")
  done
  proxy_reset
  local t0 c0; t0=$(now) c0=$(cpu_ticks)
  local first=1
  if [ "$mode" = seeded ]; then
    $B pull "$pinned" --store "$MC_TMP/nodes/1" >/dev/null 2>&1
    first=2
  fi
  local jobs=()
  for i in $(seq "$first" "$n"); do
    local peers=()
    if [ "$mode" = together ]; then
      peers=("${urls[@]}")
    elif [ "$mode" = seeded ]; then
      for j in $(seq 1 "$n"); do [ "$j" = "$i" ] || peers+=("${urls[$((j - 1))]}"); done
    fi
    local flag=()
    if [ ${#peers[@]} -gt 0 ]; then flag=(--peers "$(IFS=,; echo "${peers[*]}")"); fi
    $B pull "$pinned" --store "$MC_TMP/nodes/$i" "${flag[@]}" >/dev/null 2>&1 &
    jobs+=($!)
  done
  for j in "${jobs[@]}"; do wait "$j" || mc_fail "$mode N=$n: a pull failed"; done
  local t1 c1; t1=$(now) c1=$(cpu_ticks)
  for i in $(seq 1 "$n"); do
    $B store verify --store "$MC_TMP/nodes/$i" >/dev/null 2>&1 || mc_fail "$mode N=$n: node $i"
  done
  kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true
  read -r b0 a0 <<< "$c0"; read -r b1 a1 <<< "$c1"
  /usr/bin/python3 -c "print(f'{$(proxy_stat blob_bytes)/$image:.3f} {$t1-$t0:.2f} {($b1-$b0)/max(1,$a1-$a0):.2f}')"
}

echo "image $image bytes, registry link ${rate_mb} MB/s, $rounds rounds; load: $(uptime | sed 's/.*load/load/')"
printf '%-12s %2s  %-28s %-28s %-18s %s\n' mode N "egress/image median [min-max]" \
  "seconds median [min-max]" "time / one node's" "cpu busy"
base=""
for n in ${P2P_NODES:-1 2 4 8}; do
  declare -A eg=() tm=() cpu=()
  for r in $(seq 1 "$rounds"); do
    for mode in independent together seeded; do
      if [ "$n" = 1 ]; then [ "$mode" = independent ] || continue
      else [[ " $modes " == *" $mode "* ]] || continue; fi
      read -r e t c < <(run "$mode" "$n")
      eg[$mode]+="$e " tm[$mode]+="$t " cpu[$mode]+="$c "
    done
  done
  for mode in independent together seeded; do
    [ -n "${eg[$mode]:-}" ] || continue
    [ -n "$base" ] || base=$(/usr/bin/python3 -c "import statistics; print(statistics.median([${tm[$mode]// /,}]))")
    /usr/bin/python3 - "$mode" "$n" "${eg[$mode]}" "${tm[$mode]}" "$base" "${cpu[$mode]}" <<'PY'
import statistics, sys
mode, n, e, t = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4].split()]
base, c = float(sys.argv[5]), [float(x) for x in sys.argv[6].split()]
f = lambda v: f"{statistics.median(v):.3f} [{min(v):.3f}-{max(v):.3f}]"
print(f"{mode:<12} {n:>2}  {f(e):<28} {f(t):<28} {statistics.median(t) / base:<18.2f} {statistics.median(c):.0%}")
PY
  done
  unset eg tm cpu
done
