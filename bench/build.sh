#!/usr/bin/env bash
# Benchmark: `modelcar build --layout` against `umoci insert`, `buildah bud` (FROM scratch + COPY)
# and the limit (each byte copied once while hashed: tee | openssl dgst, two files at a time),
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

now() { date +%s.%N; }
best_modelcar=1e9 best_limit=1e9 best_umoci=1e9 best_buildah=1e9
min() { /usr/bin/python3 -c "print(min($1, $2))"; }

for run in $(seq 1 "$runs"); do
  rm -rf out lim U && mkdir lim
  t0=$(now)
  ls m/*.safetensors m/config.json | xargs -P2 -I{} sh -c 'tee "lim/$(basename {})" < {} | openssl dgst -sha256 > /dev/null'
  sync -f lim
  t1=$(now); best_limit=$(min "$best_limit" "$t1 - $t0")

  t0=$(now)
  "$MC" build m --layout out --base none > /dev/null 2>&1
  t1=$(now); best_modelcar=$(min "$best_modelcar" "$t1 - $t0")

  t0=$(now)
  umoci init --layout U && umoci new --image U:t
  for f in m/*; do umoci insert --image U:t "$f" "/models/$(basename "$f")" > /dev/null; done
  sync -f U
  t1=$(now); best_umoci=$(min "$best_umoci" "$t1 - $t0")

  "${B[@]}" rmi -a -f > /dev/null 2>&1 || true
  printf 'FROM scratch\nCOPY . /models/\n' > Containerfile
  t0=$(now)
  "${B[@]}" bud -q --format oci -f Containerfile -t bench m > /dev/null 2>&1
  sync -f "$work/broot"
  t1=$(now); best_buildah=$(min "$best_buildah" "$t1 - $t0")
  echo "run $run: limit ${best_limit}s modelcar ${best_modelcar}s umoci ${best_umoci}s buildah ${best_buildah}s (best so far)" >&2
done

row() {  # name seconds
  /usr/bin/python3 -c "
b=$bytes; t=$2; m=$best_modelcar
print('| %-34s | %7.2f s | %7.0f MB/s | %5.2f× modelcar |' % ('$1', t, b/t/1e6, t/m))"
}
echo "model: $bytes bytes, $gib GiB; best of $runs runs; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| tool | time | throughput | ratio |"
echo "| --- | --- | --- | --- |"
row "limit (tee + openssl dgst, sync)" "$best_limit"
row "modelcar build --layout --base none" "$best_modelcar"
row "umoci insert (one per file)" "$best_umoci"
row "buildah bud (FROM scratch + COPY)" "$best_buildah"
