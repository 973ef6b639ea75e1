#!/usr/bin/env bash
# Faults at scale (random_faults_run.py): seeded random faults from fault_proxy.py between
# modelcar and the real docker-registry over many pulls (layout, store, mount), pushes, copies and
# build --push. Every exit 0 must be a byte-exact, verified result; every failure must leave
# nothing visible, and running the command again must succeed.
#   random_faults_test.sh [OPS] [SEED] [RATE]   (defaults: 100 operations, seed 1, rate 0.12)
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
ops=${1:-100} seed=${2:-1} rate=${3:-0.12}
mc_tmpdir
mc_start_registry
export WORK=$MC_TMP/work MODEL=$MC_TMP/work/model
mkdir -p "$MODEL/sub"
head -c 1500000 /dev/urandom > "$MODEL/model.safetensors"
head -c 700000 /dev/urandom > "$MODEL/extra.safetensors"
echo '{"model_type":"qwen2"}' > "$MODEL/config.json"
echo hello > "$MODEL/sub/note.txt"
"$MC" build "$MODEL" --layout "$WORK/ref:v1" > /dev/null 2>&1 || mc_fail "build"
REF_DIGEST=$("$MC" push --layout "$WORK/ref:v1" "$REGISTRY/rf/m:v1" --progress none | tail -1)
export REF_DIGEST=${REF_DIGEST#*@} REGISTRY
start_proxy random "$seed" "$rate" 2
export PROXY
/usr/bin/python3 "$(dirname "$0")/random_faults_run.py" "$ops" "$seed"
