#!/usr/bin/env bash
# Benchmark: automatic prefix caching. The second turn of a chat with a ~1,000-token history on
# the Qwen2.5-0.5B-shaped synthetic model: time to first token with prefix caching on (the
# default) against --no-enable-prefix-caching, two `modelcar serve` instances side by side (2
# threads each; one request at a time, runs interleaved and the order alternated), and whether
# both give the same tokens and logprobs (bench/prefix_cache.mjs).
#   bench/prefix_cache.sh [RUNS] [SENTENCES]    defaults: 7 48 (48 sentences: ~1,000 tokens)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
sentences=${2:-48}
threads=2
MC=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}

. "$here/bench/serve_common.sh"
work=$(mktemp -d /var/tmp/modelcar-bench-prefix-XXXXXX)
trap 'bench_stop_servers; rm -rf "$work"' EXIT
"$MC" testmodel --shape qwen2.5-0.5b --out "$work/m" --seed 1 2>/dev/null
cat "$work/m/model.safetensors" > /dev/null  # page cache warm

start() {  # start NAME FLAGS...: sets bench_url once /health answers
  local name=$1; shift
  local port; port=$(bench_free_port)
  bench_start "$name" "$port" "$MC" serve "$work/m" --host 127.0.0.1 --port "$port" \
    --served-model-name m --threads "$threads" --enable-prompt-tokens-details "$@"
}
start on; on=$bench_url
start off --no-enable-prefix-caching; off=$bench_url
echo "load before: $(uptime)" >&2
node "$here/bench/prefix_cache.mjs" "$on" "$off" m "$runs" "$sentences"
echo "load after: $(uptime)" >&2
echo "model: Qwen2.5-0.5B-shaped synthetic, bf16, fast precision; $threads threads per server;" \
  "$(nproc) cores; max_tokens 16; modelcar $(git -C "$here" rev-parse --short HEAD)" >&2
