#!/usr/bin/env bash
# Cold pull of a model image from the local registry to a usable /models tree:
#   modelcar pull --store   vs   skopeo copy (registry -> OCI layout) + umoci unpack,
# side by side, wall time and peak disk used; then the warm `modelcar mount` of the present image.
#   bench/pull.sh [SIZE_MIB] [ROUNDS]     (default 2048 MiB, 1 round)
# Each round uses a fresh random model (no tool can reuse cached blobs) pushed with skopeo
# --preserve-digests (layers stay uncompressed, as modelcar builds them). Peak disk is sampled
# with du every 0.1 s over each tool's own output directories.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-2048}
rounds=${2:-1}
"$here/scripts/setup" test >/dev/null
MC=${MODELCAR_BIN:-$("$here/scripts/build" "${MODELCAR_BENCH_BUILD:-release}" modelcar)/modelcar}
export MODELCAR_SRC=$here
source "$here/tests/lib/common.sh"
mc_tmpdir
T=$MC_TMP
now() { date +%s.%N; }
mc_start_registry

# peak_du OUTFILE DIR...: samples the total size of DIRs until the file $T/stop exists.
peak_du() {
  local out=$1; shift
  local peak=0 cur
  while [ ! -e "$T/stop" ]; do
    cur=$(du -scb "$@" 2>/dev/null | tail -1 | cut -f1) || true
    cur=${cur:-0}
    (( cur > peak )) && peak=$cur
    sleep 0.1
  done
  echo "$peak" > "$out"
}
# measure NAME OUTDIRS -- CMD...: runs CMD, prints wall seconds and peak bytes.
measure() {
  local name=$1 dirs=$2; shift 3
  rm -f "$T/stop"
  peak_du "$T/peak-$name" $dirs &
  local sampler=$!
  MC_CLEANUP+=("kill $sampler 2>/dev/null")
  local t0 t1; t0=$(now)
  "$@"
  t1=$(now)
  touch "$T/stop"; wait $sampler
  local final; final=$(du -scb $dirs | tail -1 | cut -f1)
  local peak; peak=$(cat "$T/peak-$name"); (( final > peak )) && peak=$final
  /usr/bin/python3 -c "print(f'$name {$t1-$t0:.2f} {$peak}')" >> "$T/results"
}

for r in $(seq "$rounds"); do
  mkdir -p "$T/m$r"
  head -c $((size * 1048576)) /dev/urandom > "$T/m$r/model.safetensors"
  head -c 70000 /dev/urandom | base64 > "$T/m$r/tokenizer.json"
  echo '{"architectures":["Qwen2ForCausalLM"]}' > "$T/m$r/config.json"
  "$MC" build "$T/m$r" --layout "$T/l$r:v1" >/dev/null 2>&1
  skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$T/l$r:v1" "docker://$REGISTRY/m$r:v1"
  rm -rf "$T/l$r"
  model_bytes=$(du -sb "$T/m$r" | cut -f1)
  echo "model $model_bytes" >> "$T/results"
  sync

  measure modelcar "$T/store$r" -- "$MC" pull "$REGISTRY/m$r:v1" --store "$T/store$r" \
    > "$T/pinned$r" 2>/dev/null
  measure skopeo+umoci "$T/oci$r $T/bundle$r" -- bash -c \
    "skopeo copy -q --preserve-digests --src-tls-verify=false docker://$REGISTRY/m$r:v1 oci:$T/oci$r:v1 &&
     umoci unpack --image $T/oci$r:v1 $T/bundle$r >/dev/null"
  cmp "$T/bundle$r/rootfs/models/model.safetensors" "$T/m$r/model.safetensors"
  digest=$(sed 's/.*@sha256://' "$T/pinned$r")
  cmp "$T/store$r/trees/sha256/$digest/rootfs/models/model.safetensors" "$T/m$r/model.safetensors"

  # Warm mount of the present image (includes process start), 20 runs.
  t0=$(now)
  for i in $(seq 20); do
    "$MC" mount "$(cat "$T/pinned$r")" "$T/mnt$r/models" --store "$T/store$r" -q >/dev/null
  done
  t1=$(now)
  /usr/bin/python3 -c "print(f'mount {($t1-$t0)/20*1000:.1f}')" >> "$T/results"
  # Baseline: the process start alone (`modelcar version`), 20 runs.
  t0=$(now)
  for i in $(seq 20); do "$MC" version >/dev/null; done
  t1=$(now)
  /usr/bin/python3 -c "print(f'start {($t1-$t0)/20*1000:.1f}')" >> "$T/results"
  rm -rf "$T/oci$r" "$T/bundle$r" "$T/m$r"
done

/usr/bin/python3 - "$T/results" <<'PY'
import sys, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    k, *v = line.split()
    rows[k].append([float(x) for x in v])
model = min(r[0] for r in rows["model"])
mc = min(rows["modelcar"]); peer = min(rows["skopeo+umoci"])
print(f"model: {model/2**20:.0f} MiB, best of {len(rows['modelcar'])} round(s)")
print(f"{'tool':<22}{'wall s':>8}{'MB/s':>8}{'peak disk':>12}{'x model':>9}")
for name, (t, peak) in (("modelcar pull --store", mc), ("skopeo copy+umoci unpack", peer)):
    print(f"{name:<22}{t:>8.2f}{model/1e6/t:>8.0f}{peak/2**20:>9.0f} MiB{peak/model:>8.2f}x")
print(f"speedup (wall): {peer[0]/mc[0]:.2f}x; peak disk ratio peer/modelcar: {peer[1]/mc[1]:.2f}x")
m, s0 = min(r[0] for r in rows['mount']), min(r[0] for r in rows['start'])
print(f"warm mount: {m:.1f} ms per command; process start alone (modelcar version): {s0:.1f} ms;"
      f" mount's own work: {m - s0:.1f} ms")
PY
