#!/usr/bin/env bash
# Push and pull speed of modelcar against skopeo and the raw curl ceiling, side by side, on the
# real docker-registry over loopback, in several interleaved rounds.
#   bench/transfer.sh [SIZE_MIB] [ROUNDS]     (defaults 512 and 5; the model is one big file +
#                                              small ones)
# Every round starts fresh registries (one per tool: skopeo caches where it saw a blob and would
# mount it instead of uploading) and alternates which tool goes first; pulled copies are compared
# with the source and deleted. Prints each round's MB/s, then per tool the median and the spread
# (min-max) over the rounds, and the median of the per-round ratios.
# skopeo 1.9 gzips uncompressed layers when it pushes to a registry (c/image's default for
# docker:// destinations, with no flag to turn it off), so its push includes that compression and
# its pull moves (incompressible) gzip layers: the ratios are what a user of each tool gets.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-512}
rounds=${2:-5}
"$here/scripts/setup" test >/dev/null
MODELCAR_BIN=${MODELCAR_BIN:-$("$here/scripts/build" "${MODELCAR_BENCH_BUILD:-release}" modelcar)/modelcar}
export MODELCAR_BIN MODELCAR_SRC=$here
source "$here/tests/lib/common.sh"
source "$here/tests/registry/lib.sh"
mc_tmpdir
T=$MC_TMP
now() { date +%s.%N; }
rate() { /usr/bin/python3 -c "print(f'{$1/1e6/($3-$2):.0f}')"; }

make_model "$T/m1" "$size"
make_model "$T/m2" "$size"
"$MC" build "$T/m1" --layout "$T/l1:v1" >/dev/null 2>&1
"$MC" build "$T/m2" --layout "$T/l2:v1" >/dev/null 2>&1
bytes=$(du -sb "$T/l1/blobs" | cut -f1)
blob=$(ls -S "$T/l1/blobs/sha256" | head -1)  # the big layer: the curl ceiling moves it alone
bsize=$(stat -c %s "$T/l1/blobs/sha256/$blob")

# fresh_registry VAR: starts a registry with empty storage and stores host:port in VAR.
fresh_registry() {
  mc_start_registry
  printf -v "$1" '%s' "$REGISTRY"
  REGS+=("$REGISTRY_PID:$REGISTRY_DIR")
}
stop_registries() {
  local r
  for r in "${REGS[@]}"; do
    kill "${r%%:*}" 2>/dev/null || true
    wait "${r%%:*}" 2>/dev/null || true
    rm -rf "${r#*:}"
  done
  REGS=()
}

push_mc() { "$MC" push --layout "$T/l1:v1" "$RM/bench/m:v1" --progress none >/dev/null; }
push_skopeo() { skopeo copy -q --dest-tls-verify=false "oci:$T/l2:v1" "docker://$RS/bench/m:v1"; }
push_curl() {
  local loc
  loc=$(curl -s -D - -o /dev/null -X POST "http://$RC/v2/bench/m/blobs/uploads/" |
    tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  curl -s -f -o /dev/null -T "$T/l1/blobs/sha256/$blob" -H 'Content-Type: application/octet-stream' \
    "$loc&digest=sha256:$blob"
}
pull_mc() { "$MC" pull "$RM/bench/m:v1" --layout "$T/p1:v1" --progress none >/dev/null; }
pull_skopeo() { skopeo copy -q --src-tls-verify=false "docker://$RS/bench/m:v1" "oci:$T/p2:v1"; }
pull_curl() { curl -s -f -o "$T/curl.blob" "http://$RC/v2/bench/m/blobs/sha256:$blob"; }
# timed NAME CMD: runs CMD, appends "NAME MB/s" (whole image, or the big blob for curl) to results.
timed() {
  local n=$bytes t0 t1
  [[ $1 == *curl ]] && n=$bsize
  t0=$(now); "$2"; t1=$(now)
  echo "$r $1 $(rate "$n" "$t0" "$t1")" >> "$T/results"
}

REGS=()
: > "$T/results"
for r in $(seq 1 "$rounds"); do
  fresh_registry RM; fresh_registry RS; fresh_registry RC
  rm -rf "$T/p1" "$T/p2" "$T/curl.blob"
  if (( r % 2 )); then order=(mc skopeo curl); else order=(skopeo mc curl); fi
  for tool in "${order[@]}"; do timed "push_$tool" "push_$tool"; done
  for tool in "${order[@]}"; do timed "pull_$tool" "pull_$tool"; done
  diff -r "$T/l1/blobs" "$T/p1/blobs" >/dev/null || mc_fail "modelcar pulled different bytes"
  [ -f "$T/p2/index.json" ] || mc_fail "skopeo pulled no layout"
  cmp -s "$T/curl.blob" "$T/l1/blobs/sha256/$blob" || mc_fail "curl pulled different bytes"
  stop_registries
  echo "round $r: $(grep "^$r " "$T/results" | cut -d' ' -f2- | tr '\n' ' ')" >&2
done
rm -rf "$T/p1" "$T/p2" "$T/curl.blob"

echo "image: $bytes bytes ($size MiB model file), $rounds rounds; MB/s (1 MB = 10^6 B);" \
  "curl moves the big blob ($bsize bytes) alone; load: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$T/results" <<'PY'
import collections, statistics, sys
rate = collections.defaultdict(dict)  # name -> round -> MB/s
for line in open(sys.argv[1]):
    r, name, v = line.split()
    rate[name][int(r)] = float(v)
def show(values):
    v = sorted(values)
    return f"{statistics.median(v):6.0f} ({v[0]:.0f}-{v[-1]:.0f})"
for op in ("push", "pull"):
    mc, sk, cu = (rate[f"{op}_{t}"] for t in ("mc", "skopeo", "curl"))
    vs_sk = [mc[r] / sk[r] for r in mc]
    vs_cu = [mc[r] / cu[r] for r in mc]
    print(f"{op}  modelcar {show(mc.values())}  skopeo {show(sk.values())}  "
          f"curl {show(cu.values())}  modelcar/skopeo {statistics.median(vs_sk):.2f}x "
          f"({min(vs_sk):.2f}-{max(vs_sk):.2f})  modelcar/curl {statistics.median(vs_cu):.2f}x "
          f"({min(vs_cu):.2f}-{max(vs_cu):.2f})")
PY
