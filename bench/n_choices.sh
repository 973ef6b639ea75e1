#!/usr/bin/env bash
# Benchmark: n = 4 choices of a ~1,000-token prompt not in the prefix cache, on the
# Qwen2.5-0.5B-shaped synthetic model: time to first token and total time (streamed and not),
# cached_tokens, and the tokens of each choice, for two `modelcar serve` binaries side by side
# (2 threads each, one request at a time, the order alternated): BEFORE_BIN (e.g. a build of
# main before the choices shared their prompt) and MODELCAR_BIN (default: this tree's release
# build). --no-enable-prefix-caching on the second with NO_CACHE=1.
#   BEFORE_BIN=/path/modelcar bench/n_choices.sh [RUNS] [SENTENCES]   defaults: 5 48
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
sentences=${2:-48}
threads=2
MC=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}
BEFORE=${BEFORE_BIN:?set BEFORE_BIN to the modelcar binary to compare with}

. "$here/bench/serve_common.sh"
work=$(mktemp -d /var/tmp/modelcar-bench-n-XXXXXX)
trap 'bench_stop_servers; rm -rf "$work"' EXIT
"$MC" testmodel --shape qwen2.5-0.5b --out "$work/m" --seed 1 2>/dev/null
cat "$work/m/model.safetensors" > /dev/null  # page cache warm

start() {  # start NAME BIN FLAGS...: sets bench_url once /health answers
  local name=$1 bin=$2; shift 2
  local port; port=$(bench_free_port)
  bench_start "$name" "$port" "$bin" serve "$work/m" --host 127.0.0.1 --port "$port" \
    --served-model-name m --threads "$threads" --enable-prompt-tokens-details "$@"
}
start before "$BEFORE"; before=$bench_url
if [[ ${NO_CACHE:-0} == 1 ]]; then start after "$MC" --no-enable-prefix-caching; else start after "$MC"; fi
after=$bench_url
echo "load before: $(uptime)" >&2
node "$here/bench/n_choices.mjs" m "$runs" "$sentences" "before=$before" "after=$after"
echo "load after: $(uptime)" >&2
echo "model: Qwen2.5-0.5B-shaped synthetic, bf16; $threads threads per server; $(nproc) cores;" \
  "n 4, max_tokens 16; modelcar $(git -C "$here" rev-parse --short HEAD)" >&2
