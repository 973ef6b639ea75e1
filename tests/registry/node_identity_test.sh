#!/usr/bin/env bash
# Node identity (--registry-identity) against the real docker-registry with token auth: a
# registry named us-docker.pkg.dev (TLS, reached through a CONNECT proxy that stands in for DNS)
# whose token issuer accepts the access tokens of a GCE metadata server stand-in on 127.0.0.1 (a
# test double: there is no cloud here) as the password of "oauth2accesstoken". The node-side
# commands (pull into a store, mount, fetch, cache-agent, serve oci://) and the webhook's digest
# resolution pull with it; a long-running webhook fetches a new token before the old one expires;
# auto without GCE stays off without a metadata request; tokens never appear in any output.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
T=$MC_TMP
source "$(dirname "$0")/commands.sh"
"$MC" testmodel --shape tiny --out "$T/model" >/dev/null  # before HOME moves (npm tokenizer cache)

# Token issuer: "pusher" may push; oauth2accesstoken is accepted while the stand-in's token lives.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tok.key" -out "$T/tok.pem" -days 2 \
  -subj /CN=modelcar-token-issuer 2>/dev/null
PUSHPW=push-$RANDOM
iport=$(mc_free_port)
ISSUER_ACCESS_TOKENS=$T/access-tokens /usr/bin/python3 "$HERE/token_issuer.py" "$iport" "$T/tok.key" \
  "$T/tok.pem" modelcar-test pusher "$PUSHPW" "$T/tokens.log" 2>"$T/issuer.err" &
MC_CLEANUP+=("kill $! 2>/dev/null")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$iport/token" && break; sleep 0.1; done

# The metadata stand-in: tokens live 4 s, so modelcar renews them after 2 s.
mport=$(mc_free_port)
/usr/bin/python3 "$HERE/gce_metadata.py" "$mport" "$T/access-tokens" 4 canary-meta 2>"$T/metadata.log" &
MC_CLEANUP+=("kill $! 2>/dev/null")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$mport/" && break; sleep 0.1; done

make_tls "$T/tls" DNS:us-docker.pkg.dev
mc_start_registry "auth: {token: {realm: 'http://127.0.0.1:$iport/token', service: modelcar-test, issuer: modelcar-test-issuer, rootcertbundle: $T/tok.pem}}"
unset MC_REGISTRY_TLS_CERT MC_REGISTRY_TLS_KEY REGISTRY_AUTH_FILE

# us-docker.pkg.dev:443 is this registry: a CONNECT proxy sends every tunnel to it.
pport=$(mc_free_port)
ENV_PROXY_UPSTREAM=$REGISTRY /usr/bin/python3 "$HERE/env_proxy.py" "$pport" "$T/proxy.log" 2>"$T/proxy.err" &
MC_CLEANUP+=("kill $! 2>/dev/null")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$pport/" && break; sleep 0.1; done
export HTTPS_PROXY=http://127.0.0.1:$pport NO_PROXY=127.0.0.1,localhost
export HOME=$T/home DOCKER_CONFIG=$T/dc MODELCAR_LOG=debug
mkdir -p "$HOME" "$DOCKER_CONFIG"
REPO=us-docker.pkg.dev/proj/models/tiny
REG_FLAGS=(--ca-file "$T/tls/ca.pem")

# Push as "pusher" (auth file), then the auth file goes: only node identity is left.
printf '{"auths":{"us-docker.pkg.dev":{"username":"pusher","password":"%s"}}}' "$PUSHPW" > "$DOCKER_CONFIG/config.json"
mc_run push build "$T/model" --push "$REPO:v1" "${REG_FLAGS[@]}"
PINNED=$(tail -1 "$OUT/push.out")
[[ $PINNED == "$REPO@sha256:"* ]] || mc_fail "push printed $PINNED"
grep -q "^CONNECT us-docker.pkg.dev:443 " "$T/proxy.log" || mc_fail "not through the proxy: $(cat "$T/proxy.log")"
echo '{}' > "$DOCKER_CONFIG/config.json"

# Without node identity: a clear refusal, and no request to the metadata server.
mc_expect_fail "$MC" pull "$PINNED" --store "$W/none" "${REG_FLAGS[@]}" --registry-identity none --retries 1
echo "$MC_ERR" | mc_contains "no node identity (--registry-identity none)" || mc_fail "identity none: $MC_ERR"
mc_expect_fail "$MC" pull "$PINNED" --store "$W/none" "${REG_FLAGS[@]}" --registry-identity auto --retries 1
echo "$MC_ERR" | mc_contains "not on GCE" || mc_fail "auto off GCE: $MC_ERR"
[ ! -s "$T/metadata.log" ] || mc_fail "metadata server asked without node identity"

# With it (GCE_METADATA_HOST: the stand-in): every node-side command and the webhook.
export GCE_METADATA_HOST=127.0.0.1:$mport
NODE_FLAGS=(--registry-identity gce)
WEBHOOK_FLAGS=(--registry-ca-file "$T/tls/ca.pem")  # its default: --registry-identity auto
every_node_command "$PINNED" "$REPO:v1"
cmp "$W/fetched/model.safetensors" "$T/model/model.safetensors" || mc_fail "fetched weights differ"
grep -q "^oauth2accesstoken repository:proj/models/tiny:pull" "$T/tokens.log" \
  || mc_fail "no registry token for the node identity: $(cat "$T/tokens.log")"

# A webhook that lives longer than a token: it fetches a new one before the old one expires (the
# issuer refuses expired ones; none refused).
start_webhook
webhook_resolve "$REPO:v1" "${PINNED#*@}" "$OUT/webhook-1.http"
before=$(wc -l < "$T/metadata.log")
sleep 3
webhook_resolve "$REPO:v1" "${PINNED#*@}" "$OUT/webhook-2.http"
sleep 3
webhook_resolve "$REPO:v1" "${PINNED#*@}" "$OUT/webhook-3.http"
kill "$WEBHOOK_PID"; wait "$WEBHOOK_PID" 2>/dev/null || true
after=$(wc -l < "$T/metadata.log")
[ $((after - before)) -ge 2 ] || mc_fail "webhook did not renew its token ($before -> $after)"
grep -q "^refused" "$T/tokens.log" && mc_fail "an expired token was used: $(grep '^refused' "$T/tokens.log")"

# No metadata token in any output (each token and its base64 forms).
mapfile -t tokens < <(cut -d' ' -f1 "$T/access-tokens")
[ "${#tokens[@]}" -ge 3 ] || mc_fail "only ${#tokens[@]} tokens issued"
no_secret "${tokens[@]}" "$PUSHPW"
echo PASS
