#!/usr/bin/env bash
# Benchmark: modelcar's CPU engine against llama.cpp (built from the source bundled in the npm
# package node-llama-cpp) on the same weights: the Qwen2.5-0.5B-shaped synthetic model as bf16
# safetensors and as a bf16 GGUF written from them (bench/gguf_from_safetensors.py). Both use 2
# threads. One command, one table of ratios (bench/engine_compare.py):
#   decode tok/s at batch 1    modelcar generate (1-token prompt, 128 decode steps)  vs  llama-bench -p 0 -n 128
#   prefill tok/s at 512       modelcar generate (512-token prompt)                 vs  llama-bench -p 512 -n 0
#   serve, 4 and 16 streams    modelcar serve --max-num-seqs 16  vs  llama-server -np 16: aggregate
#                              tok/s, TTFT p50/p99 (bench/serve_load.mjs, streamed chat, 128 tokens each)
#   peak RSS, load to ready    (serve start to /health 200, page cache warm)
#   memory-read limit          bench/membw.c with 1 and 2 threads, and decode's weight bytes x tok/s
# The single-run measures run RUNS times, modelcar and llama.cpp interleaved (alternating which goes
# first); the table shows the median and [min-max] of each and the ratio of the medians.
#   bench/engine.sh [RUNS] [SERVE_ROUNDS]     defaults: 5 1 (SERVE_ROUNDS 0: no serving rows)
# Env: MODELCAR_BIN (default: scripts/build release), LLAMA_CPP_DIR (default
# ~/.cache/modelcar/llama.cpp, built once by bench/llama_cpp.sh), ENGINE_BENCH_PRECISION (fast).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
serve_rounds=${2:-1}
"$here/scripts/setup" test >/dev/null
export MODELCAR_NPM_DIR=$("$here/scripts/npm-deps" demo)
MC=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}
bin=$("$here/bench/llama_cpp.sh")
llama=$(dirname "$(dirname "$(dirname "$bin")")")

work=$(mktemp -d /var/tmp/modelcar-bench-engine-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$MC" testmodel --shape qwen2.5-0.5b --out "$work/m" --seed 1 >/dev/null 2>&1
PYTHONPATH=$llama/src/gguf-py /usr/bin/python3 "$here/bench/gguf_from_safetensors.py" \
  "$work/m" "$work/m.gguf" >/dev/null 2>&1
cc -O2 -mavx512f -fopenmp "$here/bench/membw.c" -o "$work/membw" 2>/dev/null || true  # x86 AVX-512

# Not exec: the shell must outlive the comparison for its EXIT trap to remove $work (1.9 GB).
/usr/bin/python3 "$here/bench/engine_compare.py" --modelcar "$MC" --llama-bin "$bin" \
  --model "$work/m" --gguf "$work/m.gguf" --membw "$work/membw" --runs "$runs" \
  --serve-rounds "$serve_rounds" --load-script "$here/bench/serve_load.mjs" \
  --precision "${ENGINE_BENCH_PRECISION:-fast}"
