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
#   decode of other weights    (QUANT=1) modelcar against llama.cpp at batch 1 on: GPTQ int4 and int8
#                              checkpoints written from the same weights (tests/engine/quant_ref.py,
#                              group 128) against Q4_0 / Q8_0 made by llama-quantize from the bf16
#                              GGUF with the LM head kept as the checkpoint has it (f16), and Q4_0
#                              with llama.cpp's default LM head (Q8_0 for this width); int8 made
#                              at load (--quantization int8) against Q8_0 with a bf16 LM head;
#                              the Llama-3.2-1B shape in bf16. Each int row also as a ratio to
#                              modelcar's own bf16 decode, run right after each int run (median
#                              and range of the per-run ratios).
# The single-run measures run RUNS times, modelcar and llama.cpp interleaved (alternating which goes
# first); the table shows the median and [min-max] of each and the ratio of the medians.
#   bench/engine.sh [RUNS] [SERVE_ROUNDS] [QUANT]     defaults: 5 1 1 (SERVE_ROUNDS 0: no serving
#                                                     rows; QUANT 0: no quantized/Llama rows)
# Env: MODELCAR_BIN (default: scripts/build release), LLAMA_CPP_DIR (default
# ~/.cache/modelcar/llama.cpp, built once by bench/llama_cpp.sh), ENGINE_BENCH_PRECISION (fast).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
serve_rounds=${2:-1}
quant=${3:-1}
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
variants=()
if [ "$quant" = 1 ]; then
  q=(/usr/bin/python3 "$here/tests/engine/quant_ref.py" quantize "$work/m")
  "${q[@]}" "$work/m-gptq4" gptq 4 128 >/dev/null
  "${q[@]}" "$work/m-gptq8" gptq 8 128 >/dev/null
  lq() {  # llama-quantize the bf16 GGUF: OUT TYPE [LM head type]
    local head=()
    [ -z "${3:-}" ] || head=(--token-embedding-type "$3" --output-tensor-type "$3")
    "$bin/llama-quantize" "${head[@]}" "$work/m.gguf" "$work/$1" "$2" >/dev/null 2>&1
  }
  lq q4_0-f16.gguf Q4_0 f16
  lq q4_0.gguf Q4_0
  lq q8_0-f16.gguf Q8_0 f16
  lq q8_0-bf16.gguf Q8_0 bf16
  "$MC" testmodel --shape llama3.2-1b --out "$work/llama" --seed 1 >/dev/null 2>&1
  PYTHONPATH=$llama/src/gguf-py /usr/bin/python3 "$here/bench/gguf_from_safetensors.py" \
    "$work/llama" "$work/llama.gguf" >/dev/null 2>&1
  variants=(
    --variant "int4 GPTQ g128 vs Q4_0, LM head f16 in both" "$work/m-gptq4" "" "$work/q4_0-f16.gguf"
    --variant "int4 GPTQ g128 vs Q4_0, llama.cpp's LM head Q8_0" "$work/m-gptq4" "" "$work/q4_0.gguf"
    --variant "int8 GPTQ g128 vs Q8_0, LM head f16 in both" "$work/m-gptq8" "" "$work/q8_0-f16.gguf"
    --variant "int8 at load vs Q8_0, LM head bf16 in both" "$work/m" "--quantization int8" \
      "$work/q8_0-bf16.gguf"
    --variant "Llama-3.2-1B shape, bf16" "$work/llama" "" "$work/llama.gguf")
fi
cc -O2 -mavx512f -fopenmp "$here/bench/membw.c" -o "$work/membw" 2>/dev/null || true  # x86 AVX-512

# Both sides' weights reach the page cache the same way, as a served model's do: written back,
# dropped from the cache, read again from disk. On the VMs these figures come from, pages that a
# process had just written were at times read several times slower than pages filled by reading
# the file (docs/benchmarks.md), and the two sides' files are written by different programs.
find "$work" -name '*.safetensors' -o -name '*.gguf' | /usr/bin/python3 -c '
import os, sys
for path in sys.stdin.read().split():
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    while os.read(fd, 1 << 24):
        pass
    os.close(fd)
'

# Not exec: the shell must outlive the comparison for its EXIT trap to remove $work (1.9 GB).
/usr/bin/python3 "$here/bench/engine_compare.py" --modelcar "$MC" --llama-bin "$bin" \
  --model "$work/m" --gguf "$work/m.gguf" --membw "$work/membw" --runs "$runs" \
  --serve-rounds "$serve_rounds" --load-script "$here/bench/serve_load.mjs" \
  --precision "${ENGINE_BENCH_PRECISION:-fast}" "${variants[@]}"
