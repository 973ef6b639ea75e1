# Every command that takes registry credentials, run with outputs kept, for the credential tests
# (source after tests/lib/common.sh and lib.sh; MC_TMP set). Each run's stdout and stderr go to
# $OUT/NAME.out and $OUT/NAME.err; everything the commands write goes under $W.
#   REG_FLAGS=(...)      extra flags for every registry command (e.g. --ca-file F)
#   NODE_FLAGS=(...)     extra flags for the node-side commands (e.g. --registry-identity gce)
#   WEBHOOK_FLAGS=(...)  extra flags for the webhook (e.g. --plain-http)
#   API_KEY              serve's --api-key
#   mc_run NAME ARGS...        runs modelcar ARGS, fails the test if it fails
#   every_push_command MODEL REPO   build --push, build --layout + push, copy, resolve, inspect,
#                          pull --layout (to and from REPO:v1); sets PINNED
#   every_node_command PINNED TAGREF  pull into a store, mount, fetch, store ls, cache-agent (its
#                          /status and /metrics), serve oci:// (its /health, /v1/models, /metrics)
#                          and the webhook's digest resolution of TAGREF (must give PINNED)
#   start_webhook          starts the webhook (digestPolicy resolve, WEBHOOK_FLAGS); sets
#                          WEBHOOK_PID, WEBHOOK_URL
#   webhook_resolve TAGREF DIGEST OUT  sends an AdmissionReview for oci://TAGREF; fails unless the
#                          answer pins DIGEST (answer kept in OUT)
#   no_secret SECRET...    fails if any SECRET (or its base64, alone or as user:SECRET) is in any
#                          output or any file the commands wrote
OUT=$MC_TMP/out W=$MC_TMP/w
mkdir -p "$OUT" "$W"
REG_FLAGS=() NODE_FLAGS=() WEBHOOK_FLAGS=()
API_KEY=${API_KEY:-}

mc_run() {
  local name=$1; shift
  "$MC" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || { cat "$OUT/$name.err" >&2; mc_fail "$name: modelcar $*"; }
}

every_push_command() {
  local model=$1 repo=$2
  mc_run build-push build "$model" --push "$repo:v1" "${REG_FLAGS[@]}"
  PINNED=$(tail -1 "$OUT/build-push.out")
  [[ $PINNED == *@sha256:* ]] || mc_fail "build --push printed '$PINNED'"
  mc_run build-layout build "$model" --layout "$W/lay:v1"
  mc_run push push --layout "$W/lay:v1" "$repo:pushed" --progress plain "${REG_FLAGS[@]}"
  local pushed; pushed=$(tail -1 "$OUT/push.out")
  [ "${pushed#*@}" = "${PINNED#*@}" ] || mc_fail "push gave $pushed, build --push $PINNED"
  mc_run copy copy "$repo:v1" "$repo-copy:v1" --progress plain "${REG_FLAGS[@]}"
  mc_run resolve resolve "$repo:v1" "${REG_FLAGS[@]}"
  [ "$(cat "$OUT/resolve.out")" = "$PINNED" ] || mc_fail "resolve: $(cat "$OUT/resolve.out")"
  mc_run inspect inspect "$repo:v1" "${REG_FLAGS[@]}"
  mc_run pull-layout pull "$PINNED" --layout "$W/pulled:v1" --progress plain "${REG_FLAGS[@]}"
}

every_node_command() {
  local pinned=$1 tagref=$2
  mc_run store-pull pull "$pinned" --store "$W/s1" "${REG_FLAGS[@]}" "${NODE_FLAGS[@]}"
  mc_run mount mount "$pinned" "$W/mnt/models" --store "$W/s2" "${REG_FLAGS[@]}" "${NODE_FLAGS[@]}"
  mc_run fetch fetch "$pinned" "$W/fetched" --store "$W/s3" "${REG_FLAGS[@]}" "${NODE_FLAGS[@]}"
  mc_run store-ls store ls --store "$W/s3"

  # cache-agent: pulls the ref, then its /status and /metrics.
  echo "$pinned" > "$W/agent-refs"
  local port; port=$(mc_free_port)
  "$MC" cache-agent --config "$W/agent-refs" --store "$W/s4" --status "$W/agent-status.json" \
    --listen "127.0.0.1:$port" --interval 1 "${REG_FLAGS[@]}" "${NODE_FLAGS[@]}" \
    >"$OUT/cache-agent.out" 2>"$OUT/cache-agent.err" &
  local pid=$!
  MC_CLEANUP+=("kill $pid 2>/dev/null")
  local i
  for i in $(seq 1 300); do
    curl -s "http://127.0.0.1:$port/status" > "$OUT/agent-status.http" 2>/dev/null || true
    grep -q '"present"' "$OUT/agent-status.http" && break
    sleep 0.1
  done
  grep -q '"present"' "$OUT/agent-status.http" || { cat "$OUT/cache-agent.err" >&2; mc_fail "cache-agent did not pull: $(cat "$OUT/agent-status.http")"; }
  curl -s "http://127.0.0.1:$port/metrics" > "$OUT/agent-metrics.http"
  kill "$pid"; wait "$pid" 2>/dev/null || true

  # serve oci://: pulled, mounted and answering (with the API key).
  port=$(mc_free_port)
  "$MC" serve "oci://$pinned" --host 127.0.0.1 --port "$port" --store "$W/s5" \
    ${API_KEY:+--api-key "$API_KEY"} "${REG_FLAGS[@]}" "${NODE_FLAGS[@]}" \
    >"$OUT/serve.out" 2>"$OUT/serve.err" &
  pid=$!
  MC_CLEANUP+=("kill $pid 2>/dev/null")
  for i in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$OUT/serve.err" >&2; mc_fail "serve oci:// exited"; }
    sleep 0.1
  done
  curl -sf ${API_KEY:+-H "Authorization: Bearer $API_KEY"} "http://127.0.0.1:$port/v1/models" \
    > "$OUT/serve-models.http" || mc_fail "serve /v1/models"
  [ -z "$API_KEY" ] || [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/models")" = 401 ] \
    || mc_fail "serve answered /v1/models without the API key"
  curl -s "http://127.0.0.1:$port/metrics" > "$OUT/serve-metrics.http"
  kill "$pid"; wait "$pid" 2>/dev/null || true

  # The webhook's digestPolicy resolve looks the tag up with the same credentials.
  start_webhook
  webhook_resolve "$tagref" "${pinned#*@}" "$OUT/webhook-review.http"
  kill "$WEBHOOK_PID"; wait "$WEBHOOK_PID" 2>/dev/null || true
}

start_webhook() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=t \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$W/wh.key" -out "$W/wh.pem" 2>/dev/null
  echo '{"enableModelcar": true, "digestPolicy": "resolve"}' > "$W/wh-config.json"
  local port; port=$(mc_free_port)
  "$MC" webhook --host 127.0.0.1 --port "$port" --tls-cert "$W/wh.pem" --tls-key "$W/wh.key" \
    --config "$W/wh-config.json" "${WEBHOOK_FLAGS[@]}" >"$OUT/webhook.out" 2>"$OUT/webhook.err" &
  WEBHOOK_PID=$!
  MC_CLEANUP+=("kill $WEBHOOK_PID 2>/dev/null")
  WEBHOOK_URL=https://127.0.0.1:$port
  local i
  for i in $(seq 1 100); do
    curl -sf --cacert "$W/wh.pem" "$WEBHOOK_URL/readyz" >/dev/null && return 0
    sleep 0.1
  done
  cat "$OUT/webhook.err" >&2
  mc_fail "webhook did not start"
}

webhook_resolve() {  # TAGREF DIGEST OUT: an AdmissionReview for oci://TAGREF must come back pinned
  /usr/bin/python3 - "$MODELCAR_SRC/tests/kube/testdata/admission_review.json" "$W/review.json" "oci://$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["request"]["object"]["metadata"]["annotations"]["internal.serving.kserve.io/storage-initializer-sourceuri"] = sys.argv[3]
json.dump(r, open(sys.argv[2], "w"))
PY
  curl -sS --cacert "$W/wh.pem" -o "$3" --data-binary @"$W/review.json" "$WEBHOOK_URL/mutate-pods"
  /usr/bin/python3 - "$3" "$2" <<'PY' || { cat "$OUT/webhook.err" >&2; mc_fail "webhook did not resolve $1: $(cat "$3")"; }
import base64, json, sys
r = json.load(open(sys.argv[1]))["response"]
assert r["allowed"], r
assert sys.argv[2] in base64.b64decode(r["patch"]).decode(), "digest not in the patch"
PY
}

no_secret() {
  local s pats=()
  for s in "$@"; do
    pats+=(-e "$s" -e "$(printf %s "$s" | base64 -w0)")
    local u
    for u in alice oauth2accesstoken "<token>"; do pats+=(-e "$(printf %s "$u:$s" | base64 -w0)"); done
  done
  local hits
  hits=$(grep -rlaF "${pats[@]}" "$OUT" "$W" 2>/dev/null || true)
  [ -z "$hits" ] || mc_fail "a secret appears in: $hits"
  echo "no_secret: $# secrets ($((${#pats[@]} / 2)) forms) in none of the $(find "$OUT" "$W" -type f |
    wc -l) outputs and written files"
}
