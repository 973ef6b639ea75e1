#!/usr/bin/env bash
# Benchmark: `modelcar build --layout` against `umoci insert`, `buildah bud` (FROM scratch + COPY)
# and the limit (each byte copied once while hashed: tee | openssl dgst, two files at a time),
# and the floor no builder can beat: SHA-256 of the biggest file, which is one sequential stream,
# on a synthetic model: one 1.5/2-sized file plus three smaller ones and a config.json.
#   bench/build.sh [GIB] [RUNS]        defaults: 2 GiB, 3 runs (best run of each tool counts)
# Every tool's output is synced to disk inside its timing (modelcar fsyncs its blobs itself).
# Prints one markdown table row per tool, with MB/s and the ratio to modelcar.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
gib=${1:-2}
runs=${2:-3}
"$here/scripts/setup" test >/dev/null
MC=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}
work=$(mktemp -d /var/tmp/modelcar-bench-build-XXXXXX)
B=(buildah --root "$work/broot" --runroot "$work/brun" --storage-driver vfs)
cleanup() {
  "${B[@]}" rm -a >/dev/null 2>&1 || true
  "${B[@]}" rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# The model: 3/4 of the bytes in one file, the rest in three files, plus config.json.
total=$((gib * 1024 * 1024 * 1024))
big=$((total * 3 / 4))
small=$(((total - big) / 3))
mkdir m
openssl rand -out m/model-00001-of-00004.safetensors "$big"
for i in 2 3 4; do openssl rand -out "m/model-0000$i-of-00004.safetensors" "$small"; done
echo '{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","torch_dtype":"bfloat16"}' > m/config.json
bytes=$(du -sb m | cut -f1)
cat m/* > /dev/null  # warm the page cache: every tool reads from memory

# measure VAR CMD...: runs CMD, keeps the best wall time in best_VAR and its CPU time
# (user + sys of all children) in cpu_VAR.
measure() {
  local var=$1; shift
  local out; out=$(/usr/bin/python3 -c '
import resource, subprocess, sys, time
t = time.time(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %.3f" % (time.time() - t, r.ru_utime + r.ru_stime))' "$@")
  local wall=${out% *} cpu=${out#* } best="best_$var"
  if /usr/bin/python3 -c "import sys; sys.exit(0 if $wall < ${!best} else 1)"; then
    printf -v "best_$var" %s "$wall"; printf -v "cpu_$var" %s "$cpu"
  fi
}
best_floor=1e9 best_limit=1e9 best_modelcar=1e9 best_umoci=1e9 best_buildah=1e9
printf 'FROM scratch\nCOPY . /models/\n' > Containerfile
export MC

for run in $(seq 1 "$runs"); do
  rm -rf out lim U && mkdir lim
  measure floor openssl dgst -sha256 m/model-00001-of-00004.safetensors
  measure limit sh -c 'ls m/* | xargs -P2 -I{} sh -c '"'"'tee "lim/$(basename {})" < {} | openssl dgst -sha256'"'"' && sync -f lim'
  measure modelcar sh -c '"$MC" build m --layout out --base none'
  measure umoci sh -c 'umoci init --layout U && umoci new --image U:t &&
    for f in m/*; do umoci insert --image U:t "$f" "/models/$(basename "$f")" || exit 1; done && sync -f U'
  "${B[@]}" rmi -a -f > /dev/null 2>&1 || true
  measure buildah sh -c "${B[*]} bud -q --format oci -f Containerfile -t bench m && sync -f $work/broot"
  echo "run $run (best so far): floor ${best_floor}s limit ${best_limit}s modelcar ${best_modelcar}s umoci ${best_umoci}s buildah ${best_buildah}s" >&2
done

row() {  # name wall cpu
  /usr/bin/python3 -c "
b=$bytes; t=$2; c=$3; m=$best_modelcar; mc=$cpu_modelcar
print('| %-36s | %7.2f s | %7.0f MB/s | %5.2fx | %6.2f s | %5.2fx |' % ('$1', t, b/t/1e6, t/m, c, c/mc))"
}
echo "model: $bytes bytes, $gib GiB; best of $runs runs; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| tool | wall | throughput | wall / modelcar | CPU (user+sys) | CPU / modelcar |"
echo "| --- | --- | --- | --- | --- | --- |"
row "floor (sha256 of the biggest file)" "$best_floor" "$cpu_floor"
row "limit (tee + openssl dgst, sync)" "$best_limit" "$cpu_limit"
row "modelcar build --layout --base none" "$best_modelcar" "$cpu_modelcar"
row "umoci insert (one per file)" "$best_umoci" "$cpu_umoci"
row "buildah bud (FROM scratch + COPY)" "$best_buildah" "$cpu_buildah"
