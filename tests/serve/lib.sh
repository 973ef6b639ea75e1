# Helpers for the serve integration tests (source after tests/lib/common.sh).
#   serve_tiny_model       writes the tiny synthetic model once per test into $MC_TMP/tinyqwen
#   serve_start DIR ARGS   starts `modelcar serve DIR --host 127.0.0.1 --port <free> ARGS...`
#                          (DIR "-": no positional MODEL, e.g. with --model=...),
#                          sets SERVE_PID, SERVE_URL, SERVE_LOG; waits for GET /health == 200
#   serve_node FILE        runs a node script with the official openai SDK on NODE_PATH
MODELCAR_NPM_DIR=${MODELCAR_NPM_DIR:-$HOME/.cache/modelcar/npm}
[ -d "$MODELCAR_NPM_DIR/node_modules/ajv-formats" ] || MODELCAR_NPM_DIR=$("$MODELCAR_SRC/scripts/npm-deps" test)
export MODELCAR_NPM_DIR

serve_tiny_model() {
  [ -n "${MC_TMP:-}" ] || mc_tmpdir
  MODEL_DIR=$MC_TMP/tinyqwen
  [ -f "$MODEL_DIR/model.safetensors" ] ||
    "$MODELCAR_BIN" testmodel --shape tiny --out "$MODEL_DIR" >/dev/null
}

serve_start() {
  local dir=$1; shift
  local port; port=$(mc_free_port)
  SERVE_LOG=$(mktemp "$MC_TMP/serve-log-XXXX")
  local pos=("$dir")
  [ "$dir" = - ] && pos=()
  "$MODELCAR_BIN" serve "${pos[@]}" --host 127.0.0.1 --port "$port" "$@" >"$SERVE_LOG" 2>&1 &
  SERVE_PID=$!
  MC_CLEANUP+=("kill $SERVE_PID 2>/dev/null; wait $SERVE_PID 2>/dev/null")
  SERVE_URL=http://127.0.0.1:$port
  local i
  for i in $(seq 1 300); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVE_URL/health")" = 200 ]; then return 0; fi
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$SERVE_LOG" >&2; mc_fail "serve exited early"; }
    sleep 0.1
  done
  cat "$SERVE_LOG" >&2
  mc_fail "serve did not become ready on $SERVE_URL"
}

serve_node() {
  NODE_PATH=$MODELCAR_NPM_DIR/node_modules node "$@"
}

