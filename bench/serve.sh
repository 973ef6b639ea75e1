#!/usr/bin/env bash
# Benchmark: `modelcar serve` against llama.cpp's `llama-server` on the same weights (the
# Qwen2.5-0.5B-shaped synthetic model; the GGUF is written from the same safetensors by
# bench/gguf_from_safetensors.py: 2-D tensors bf16 bit for bit, norms/biases f32), one server at a
# time, both with 2 threads, streaming chat completions at 1, 4 and 16 concurrent streams
# (bench/serve_load.mjs): aggregate generated tokens/s and TTFT p50/p90. Every request generates
# exactly MAX_TOKENS tokens (temperature 0, ignore_eos) so both servers do the same work.
#   bench/serve.sh [MAX_TOKENS] [REQUESTS_PER_STREAM] [LEVELS]    defaults: 64 2 "1 4 16"
# A level with C streams sends max(4, C x REQUESTS_PER_STREAM) requests.
# llama.cpp is built once from the npm package node-llama-cpp (its git bundle of llama.cpp, offline)
# in $LLAMA_CPP_DIR (default ~/.cache/modelcar/llama.cpp) and reused from there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
max_tokens=${1:-64}
per_stream=${2:-2}
levels=${3:-"1 4 16"}
threads=2
"$here/scripts/setup" test >/dev/null
export MODELCAR_NPM_DIR=$("$here/scripts/npm-deps" demo)
MC=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}

# llama.cpp from node-llama-cpp's bundle, built once outside the repo.
llama=${LLAMA_CPP_DIR:-$HOME/.cache/modelcar/llama.cpp}
server=$llama/src/build/bin/llama-server
if [ ! -x "$server" ]; then
  echo "building llama.cpp's llama-server in $llama (once; ~5-15 min on 2 cores)" >&2
  mkdir -p "$llama"
  (cd "$llama" && rm -rf package node-llama-cpp-*.tgz src &&
    npm pack --silent node-llama-cpp >/dev/null && tar xzf node-llama-cpp-*.tgz &&
    git clone -q package/llama/gitRelease.bundle src 2>/dev/null &&
    cmake -S src -B src/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
      -DLLAMA_BUILD_TESTS=OFF -DBUILD_SHARED_LIBS=OFF >&2 &&
    ninja -C src/build llama-server >&2)
fi
llama_version=$("$server" --version 2>&1 | grep -m1 -o 'version: .*' || echo "version ?")

. "$here/bench/serve_common.sh"
work=$(mktemp -d /var/tmp/modelcar-bench-serve-XXXXXX)
trap 'bench_stop_servers; rm -rf "$work"' EXIT
"$MC" testmodel --shape qwen2.5-0.5b --out "$work/m" --seed 1 2>/dev/null
PYTHONPATH=$llama/src/gguf-py /usr/bin/python3 "$here/bench/gguf_from_safetensors.py" "$work/m" "$work/m.gguf" 2>/dev/null
cat "$work/m/model.safetensors" "$work/m.gguf" > /dev/null  # page cache warm for both

port=$(bench_free_port)
maxseq=16
for c in $levels; do ((c > maxseq)) && maxseq=$c; done

# run NAME CMD...: starts the server, waits for /health, warms it up, runs every level.
run() {
  local name=$1; shift
  bench_start "$name" "$port" "$@"
  local url=$bench_url
  node "$here/bench/serve_load.mjs" "$url" m 1 1 8 > /dev/null  # warm-up
  for c in $levels; do
    local n=$((c * per_stream)); ((n < 4)) && n=4
    echo "$name: $c streams, $n requests x $max_tokens tokens" >&2
    node "$here/bench/serve_load.mjs" "$url" m "$c" "$n" "$max_tokens" | tee -a "$work/$name.jsonl" >&2
  done
  bench_stop_servers
}

run modelcar "$MC" serve "$work/m" --host 127.0.0.1 --port "$port" --served-model-name m \
  --threads "$threads" --max-num-seqs "$maxseq"
run llama.cpp "$server" -m "$work/m.gguf" --host 127.0.0.1 --port "$port" -a m --jinja \
  -t "$threads" -tb "$threads" -np "$maxseq" -c $((maxseq * (max_tokens + 256)))

echo "model: Qwen2.5-0.5B-shaped synthetic, bf16; $max_tokens tokens per request; $threads threads each;" \
  "$(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); llama.cpp ${llama_version} (node-llama-cpp bundle)"
/usr/bin/python3 - "$work/modelcar.jsonl" "$work/llama.cpp.jsonl" <<'PY'
import json, sys
mc = [json.loads(l) for l in open(sys.argv[1])]
lc = [json.loads(l) for l in open(sys.argv[2])]
print("| streams | requests | modelcar tok/s | llama.cpp tok/s | tok/s ratio | modelcar TTFT p50 / p90 | llama.cpp TTFT p50 / p90 | TTFT p50 ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for m, l in zip(mc, lc):
    for r in (m, l):
        if r["tokens_min"] != r["max_tokens"] or r["tokens_max"] != r["max_tokens"]:
            print(f"warning: {r['concurrency']} streams: {r['tokens_min']}-{r['tokens_max']} tokens per request", file=sys.stderr)
    print(f"| {m['concurrency']} | {m['requests']} | {m['tok_s']:.1f} | {l['tok_s']:.1f} | {m['tok_s']/l['tok_s']:.2f}x"
          f" | {m['ttft_p50_ms']:.0f} / {m['ttft_p90_ms']:.0f} ms | {l['ttft_p50_ms']:.0f} / {l['ttft_p90_ms']:.0f} ms"
          f" | {m['ttft_p50_ms']/l['ttft_p50_ms']:.2f}x |")
PY
