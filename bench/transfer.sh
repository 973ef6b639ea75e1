#!/usr/bin/env bash
# Push and pull speed of modelcar against skopeo and the raw curl ceiling, side by side, on the
# real docker-registry over loopback.
#   bench/transfer.sh [SIZE_MIB]     (default 2048; the model is one big file + small ones)
# Each tool gets its own registry and its own fresh random model (skopeo caches blob info), so no
# tool can skip or mount what another uploaded. Prints MB/s and ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-2048}
"$here/scripts/setup" test >/dev/null
MODELCAR_BIN=${MODELCAR_BIN:-$("$here/scripts/build" "${MODELCAR_BENCH_BUILD:-release}" modelcar)/modelcar}
export MODELCAR_BIN MODELCAR_SRC=$here
source "$here/tests/lib/common.sh"
source "$here/tests/registry/lib.sh"
mc_tmpdir
T=$MC_TMP
now() { date +%s.%N; }
rate() { /usr/bin/python3 -c "print(f'{$1/1e6/($3-$2):.0f}')"; }

big() { # model dir with one big file of $size MiB and a few small ones
  mkdir -p "$1"
  head -c $((size * 1048576)) /dev/urandom > "$1/model.safetensors"
  head -c 70000 /dev/urandom | base64 > "$1/tokenizer.json"
  echo '{"architectures":["Qwen2ForCausalLM"]}' > "$1/config.json"
}
big "$T/m1"; big "$T/m2"; big "$T/m3"
for i in 1 2 3; do "$MC" build "$T/m$i" --layout "$T/l$i:v1" >/dev/null 2>&1; done
bytes=$(du -sb "$T/l1/blobs" | cut -f1)

mc_start_registry; R1=$REGISTRY
mc_start_registry; R2=$REGISTRY
mc_start_registry; R3=$REGISTRY

# push
t0=$(now); "$MC" push --layout "$T/l1:v1" "$R1/bench/m:v1" --progress none >/dev/null; t1=$(now)
t2=$(now); skopeo copy -q --dest-tls-verify=false "oci:$T/l2:v1" "docker://$R2/bench/m:v1"; t3=$(now)
# curl ceiling: one streaming PUT of the big layer (the image's largest blob).
blob=$(ls -S "$T/l3/blobs/sha256" | head -1)
bsize=$(stat -c %s "$T/l3/blobs/sha256/$blob")
loc=$(curl -s -D - -o /dev/null -X POST "http://$R3/v2/bench/m/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
t4=$(now)
curl -s -f -o /dev/null -T "$T/l3/blobs/sha256/$blob" -H 'Content-Type: application/octet-stream' "$loc&digest=sha256:$blob"
t5=$(now)
pm=$(rate "$bytes" "$t0" "$t1"); ps=$(rate "$bytes" "$t2" "$t3"); pc=$(rate "$bsize" "$t4" "$t5")

# pull (drop the page cache of the layouts' sources is not possible without root-only knobs;
# both tools read from the same kind of registry storage)
t6=$(now); "$MC" pull "$R1/bench/m:v1" --layout "$T/p1:v1" --progress none >/dev/null; t7=$(now)
t8=$(now); skopeo copy -q --src-tls-verify=false "docker://$R2/bench/m:v1" "oci:$T/p2:v1"; t9=$(now)
t10=$(now); curl -s -f -o "$T/curl.blob" "http://$R3/v2/bench/m/blobs/sha256:$blob"; t11=$(now)
lm=$(rate "$bytes" "$t6" "$t7"); ls_=$(rate "$bytes" "$t8" "$t9"); lc=$(rate "$bsize" "$t10" "$t11")
cmp -s "$T/curl.blob" "$T/l3/blobs/sha256/$blob" || mc_fail "curl pulled different bytes"
diff -r "$T/l1/blobs" "$T/p1/blobs" >/dev/null || mc_fail "modelcar pulled different bytes"

ratio() { /usr/bin/python3 -c "print(f'{$1/$2:.2f}x')"; }
echo "image: $bytes bytes ($size MiB model file); MB/s (1 MB = 10^6 B)"
echo "push  modelcar $pm  skopeo $ps  curl -T (one blob) $pc   modelcar/skopeo $(ratio $pm $ps)  modelcar/curl $(ratio $pm $pc)"
echo "pull  modelcar $lm  skopeo $ls_  curl GET (one blob) $lc   modelcar/skopeo $(ratio $lm $ls_)  modelcar/curl $(ratio $lm $lc)"
