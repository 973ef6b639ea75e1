#!/usr/bin/env bash
# `modelcar serve oci://...` answers before the model is there: the listener opens first and
# GET /health is 503 (API routes: a 503 JSON error) while the pull retries against a stopped
# registry; once the registry is back (same port, same storage) the pull, mount and load finish,
# /health turns 200 and a chat completion works. SIGTERM during the pull stops serve at once
# (exit 0). A digest the registry does not have makes serve exit non-zero with the error.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model
mc_start_registry
"$MODELCAR_BIN" build "$MODEL_DIR" --layout "$MC_TMP/layout:v1" >/dev/null 2>&1
ref=$("$MODELCAR_BIN" push "$REGISTRY/models/tinyqwen:v1" --layout "$MC_TMP/layout:v1" 2>/dev/null | tail -1)
[[ $ref == *@sha256:* ]] || mc_fail "push printed no pinned ref: $ref"

kill "$REGISTRY_PID"; wait "$REGISTRY_PID" 2>/dev/null || true
curl -s -o /dev/null "http://$REGISTRY/v2/" && mc_fail "the registry is still up"

port=$(mc_free_port)
url=http://127.0.0.1:$port
log=$MC_TMP/serve.log
# Retries every <= 0.2 s for long enough to outlast the registry's downtime.
"$MODELCAR_BIN" serve "oci://$ref" --store "$MC_TMP/store" --host 127.0.0.1 --port "$port" \
  --retries 100000 --pull-retry-max-delay 0.2 >"$log" 2>&1 &
pid=$!
MC_CLEANUP+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
code=000
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/health" || true)
  [ "$code" != 000 ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; mc_fail "serve exited while the registry is down"; }
  sleep 0.1
done
[ "$code" = 503 ] || { cat "$log" >&2; mc_fail "GET /health while loading: $code, want 503"; }
for _ in 1 2 3 4 5; do
  sleep 0.3
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/health")
  [ "$code" = 503 ] || { cat "$log" >&2; mc_fail "GET /health while the registry is down: $code"; }
done
code=$(curl -s -o "$MC_TMP/loading.json" -w '%{http_code}' "$url/v1/chat/completions" \
  -H 'Content-Type: application/json' -d '{"messages":[{"role":"user","content":"hi"}]}')
[ "$code" = 503 ] || mc_fail "chat while loading: $code, want 503"
/usr/bin/python3 - "$MC_TMP/loading.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert "loading" in e["message"], e
assert e["code"] == 503, e
PY
kill -0 "$pid" || mc_fail "serve died while the registry was down"

mc_restart_registry
for _ in $(seq 1 300); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/health")
  [ "$code" = 200 ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; mc_fail "serve exited after the registry came back"; }
  sleep 0.1
done
[ "$code" = 200 ] || { cat "$log" >&2; mc_fail "GET /health did not turn 200: $code"; }
body=$(curl -sf "$url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"tinyqwen","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"ignore_eos":true}')
/usr/bin/python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["usage"]["completion_tokens"] == 3, r' "$body" ||
  mc_fail "chat after loading: $body"
grep -q "ready in" "$log" || mc_fail "no ready line"
kill "$pid"; wait "$pid" || mc_fail "serve did not exit 0 on SIGTERM"

# SIGTERM while the pull is still retrying: the retries are cancelled and serve exits 0 at once.
kill "$REGISTRY_PID"; wait "$REGISTRY_PID" 2>/dev/null || true
port=$(mc_free_port)
"$MODELCAR_BIN" serve "oci://$ref" --store "$MC_TMP/store3" --host 127.0.0.1 --port "$port" \
  --retries 100000 --pull-retry-max-delay 0.2 >"$MC_TMP/term.log" 2>&1 &
pid=$!
MC_CLEANUP+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 503 ] && break
  sleep 0.1
done
sleep 0.5
kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && { cat "$MC_TMP/term.log" >&2; mc_fail "serve did not stop within 5 s of SIGTERM while loading"; }
wait "$pid" || mc_fail "serve exited non-zero on SIGTERM while loading"
grep -q "while loading" "$MC_TMP/term.log" || { cat "$MC_TMP/term.log" >&2; mc_fail "no shutdown line"; }
mc_restart_registry

# A digest the registry does not have: serve exits non-zero and says why.
missing="$REGISTRY/models/tinyqwen@sha256:$(printf '0%.0s' $(seq 64))"
set +e
"$MODELCAR_BIN" serve "oci://$missing" --store "$MC_TMP/store2" --host 127.0.0.1 \
  --port "$(mc_free_port)" >"$MC_TMP/missing.log" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || mc_fail "serve of a missing digest exited 0"
grep -qi "sha256:0000" "$MC_TMP/missing.log" || { cat "$MC_TMP/missing.log" >&2; mc_fail "the error does not name the digest"; }
grep -qi "listening on" "$MC_TMP/missing.log" || mc_fail "the listener did not open before the pull"
echo "serve_loading_test: ok"
