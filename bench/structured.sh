#!/usr/bin/env bash
# Benchmark: structured outputs (constrained decoding) against free generation on the same
# `modelcar serve` with the Qwen2.5-0.5B-shaped synthetic model and its real vocabulary (151k
# tokens), 2 threads: decode tokens/s of json_schema, json_object and regex requests vs an
# unconstrained one, interleaved (bench/structured.mjs), plus each kind's first (cold) request.
#   bench/structured.sh [ROUNDS] [MAX_TOKENS]    defaults: 5 128
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
max_tokens=${2:-128}
"$here/scripts/setup" test >/dev/null
export MODELCAR_NPM_DIR=$("$here/scripts/npm-deps" demo)
MC=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}
work=$(mktemp -d /var/tmp/modelcar-bench-structured-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
"$MC" testmodel --shape qwen2.5-0.5b --out "$work/m" --seed 1 2>/dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$MC" serve "$work/m" --host 127.0.0.1 --port "$port" --served-model-name m --threads 2 \
  --disable-uvicorn-access-log > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { tail -20 "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done
node "$here/bench/structured.mjs" "http://127.0.0.1:$port" m "$rounds" "$max_tokens"
echo "model: Qwen2.5-0.5B-shaped synthetic, bf16, vocabulary 151936; $max_tokens tokens per request;" \
  "2 threads; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
