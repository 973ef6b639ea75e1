#!/usr/bin/env bash
# Benchmark: structured outputs (constrained decoding) against free generation on the same
# `modelcar serve` with the Qwen2.5-0.5B-shaped synthetic model and its real vocabulary (151k
# tokens), 2 threads: decode tokens/s of json_schema, json_object and regex requests vs an
# unconstrained one, interleaved round by round (bench/structured.mjs), plus each kind's first
# (cold) request.
#   bench/structured.sh [ROUNDS] [MAX_TOKENS]    defaults: 5 128
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
max_tokens=${2:-128}
"$here/scripts/setup" test >/dev/null
export MODELCAR_NPM_DIR=$("$here/scripts/npm-deps" demo)
MC=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}
. "$here/bench/serve_common.sh"
work=$(mktemp -d /var/tmp/modelcar-bench-structured-XXXXXX)
trap 'bench_stop_servers; rm -rf "$work"' EXIT
"$MC" testmodel --shape qwen2.5-0.5b --out "$work/m" --seed 1 2>/dev/null
port=$(bench_free_port)
bench_start serve "$port" "$MC" serve "$work/m" --host 127.0.0.1 --port "$port" \
  --served-model-name m --threads 2 --disable-uvicorn-access-log
echo "load before: $(uptime)" >&2
node "$here/bench/structured.mjs" "$bench_url" m "$rounds" "$max_tokens"
echo "load after: $(uptime)" >&2
echo "model: Qwen2.5-0.5B-shaped synthetic, bf16, vocabulary 151936; $max_tokens tokens per request;" \
  "2 threads; $(nproc) cores; modelcar $(git -C "$here" rev-parse --short HEAD)"
