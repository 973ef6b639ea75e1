#!/usr/bin/env bash
# `modelcar serve DIR` where DIR does not exist yet (the modelcar sidecar's /mnt/models link in a
# pod): the listener answers /health 503 while it waits, the server loads once a link to the model
# appears, and with MODELCAR_MODEL_IMAGE (set by the webhook) system_fingerprint carries that
# image's digest. --wait-for-model bounds the wait (non-zero exit naming the directory); SIGTERM
# while waiting exits 0; a MODELCAR_MODEL_IMAGE that is not pinned is ignored with a warning.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model
hex=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
link=$MC_TMP/mnt/models
mkdir -p "$MC_TMP/mnt"

port=$(mc_free_port)
url=http://127.0.0.1:$port
log=$MC_TMP/serve.log
MODELCAR_MODEL_IMAGE=127.0.0.1:5000/models/tinyqwen@sha256:$hex \
  "$MODELCAR_BIN" serve "$link" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
pid=$!
MC_CLEANUP+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
code=000
for _ in $(seq 1 100); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$url/health" || true)
  [ "$code" != 000 ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; mc_fail "serve exited while the directory is missing"; }
  sleep 0.1
done
[ "$code" = 503 ] || { cat "$log" >&2; mc_fail "GET /health while waiting: $code, want 503"; }
sleep 1
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/models")" = 503 ] || mc_fail "/v1/models while waiting"
grep -q "waiting up to 300 s for the model directory $link" "$log" || { cat "$log" >&2; mc_fail "no waiting line"; }
grep -q "system_fingerprint carries sha256:$hex" "$log" || { cat "$log" >&2; mc_fail "no model image line"; }
ln -s "$MODEL_DIR" "$link"
for _ in $(seq 1 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; mc_fail "serve exited after the link appeared"; }
  sleep 0.1
done
grep -q "model directory $link appeared after" "$log" || { cat "$log" >&2; mc_fail "no appeared line"; }
body=$(curl -sf "$url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"'"$link"'","messages":[{"role":"user","content":"hi"}],"max_tokens":2}')
fp=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["system_fingerprint"])' "$body")
[[ $fp == *-${hex:0:12} ]] || mc_fail "fingerprint $fp does not end with ${hex:0:12}"
kill "$pid"; wait "$pid" || mc_fail "serve did not exit 0 on SIGTERM"

# The wait is bounded: a clear error and a non-zero exit.
rc=0
"$MODELCAR_BIN" serve "$MC_TMP/never" --host 127.0.0.1 --port 0 --wait-for-model 1 >"$log" 2>&1 || rc=$?
[ $rc != 0 ] || mc_fail "serve of a directory that never appears exited 0"
grep -q "model directory $MC_TMP/never does not exist (waited 1 s" "$log" || { cat "$log" >&2; mc_fail "timeout message"; }

# SIGTERM while waiting: exit 0 at once. A tag in MODELCAR_MODEL_IMAGE is ignored, with a warning.
MODELCAR_MODEL_IMAGE=127.0.0.1:5000/models/tinyqwen:v1 \
  "$MODELCAR_BIN" serve "$MC_TMP/never" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  grep -q "waiting up to" "$log" && break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || { cat "$log" >&2; mc_fail "SIGTERM while waiting did not exit 0"; }
grep -q "warning: ignoring MODELCAR_MODEL_IMAGE: .*not pinned" "$log" || { cat "$log" >&2; mc_fail "no warning for a tag"; }
echo "serve_wait_dir_test: ok"
