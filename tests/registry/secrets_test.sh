#!/usr/bin/env bash
# Outbound safety and secrets, against the real docker-registry: a canary password in the auth
# file and a canary serve API key never appear in any output or written file of any command
# (MODELCAR_LOG=debug; the helper and metadata-token canaries are in cred_helpers_test.sh and
# node_identity_test.sh); credentials never go over plain HTTP to a token realm that is not
# loopback (unless the registry is marked --insecure); redirects to file:// are refused; URLs
# with presigned query tokens are redacted in errors and in the cache agent's /status.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
T=$MC_TMP
source "$(dirname "$0")/commands.sh"
"$MC" testmodel --shape tiny --out "$T/model" >/dev/null  # before HOME moves (npm tokenizer cache)
SECRET=canary-file-pw-$RANDOM$RANDOM
API_KEY=canary-api-key-$RANDOM$RANDOM
htpasswd -Bbn alice "$SECRET" > "$T/htpasswd" 2>/dev/null
mc_start_registry "auth: {htpasswd: {realm: modelcar-test, path: $T/htpasswd}}"
unset REGISTRY_AUTH_FILE
export HOME=$T/home DOCKER_CONFIG=$T/dc MODELCAR_LOG=debug
mkdir -p "$HOME" "$DOCKER_CONFIG"

# 1. The auth file's password and serve's API key, through every command.
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" "$(printf 'alice:%s' "$SECRET" | base64 -w0)" \
  > "$DOCKER_CONFIG/config.json"
every_push_command "$T/model" "$REGISTRY/every/m"
every_node_command "$PINNED" "$REGISTRY/every/m:v1"
# ... and through the failures: a wrong password, a missing image.
printf '{"auths":{"%s":{"username":"alice","password":"wrong-%s"}}}' "$REGISTRY" "$SECRET" > "$T/bad.json"
mc_expect_fail "$MC" pull "$PINNED" --layout "$W/bad:v1" --authfile "$T/bad.json"
echo "$MC_ERR" > "$OUT/wrong-password.err"
echo "$MC_ERR" | mc_contains "rejected the username/password from auth file $T/bad.json" || mc_fail "wrong password: $MC_ERR"
mc_expect_fail "$MC" pull "$REGISTRY/every/nothing:v1" --store "$W/s6"
echo "$MC_ERR" > "$OUT/missing.err"
no_secret "$SECRET" "wrong-$SECRET" "$API_KEY"

# 2. A TLS registry whose token realm is plain HTTP on a non-loopback host (reached through an
#    HTTP proxy that stands in for DNS): credentials are refused before they leave; anonymous
#    token requests still go; --insecure (the user's explicit choice) lets them through.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tok.key" -out "$T/tok.pem" -days 2 \
  -subj /CN=modelcar-token-issuer 2>/dev/null
iport=$(mc_free_port)
/usr/bin/python3 "$HERE/token_issuer.py" "$iport" "$T/tok.key" "$T/tok.pem" modelcar-test alice "$SECRET" \
  "$T/tokens.log" 2>"$T/issuer.err" &
MC_CLEANUP+=("kill $! 2>/dev/null")
pport=$(mc_free_port)
ENV_PROXY_UPSTREAM=127.0.0.1:$iport /usr/bin/python3 "$HERE/env_proxy.py" "$pport" "$T/proxy.log" 2>"$T/proxy.err" &
MC_CLEANUP+=("kill $! 2>/dev/null")
for p in $iport $pport; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.1; done
done
make_tls "$T/tls"
mc_start_registry "auth: {token: {realm: 'http://realm.example:$iport/token', service: modelcar-test, issuer: modelcar-test-issuer, rootcertbundle: $T/tok.pem}}"
unset MC_REGISTRY_TLS_CERT MC_REGISTRY_TLS_KEY
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" "$(printf 'alice:%s' "$SECRET" | base64 -w0)" \
  > "$DOCKER_CONFIG/config.json"
export http_proxy=http://127.0.0.1:$pport NO_PROXY=127.0.0.1
: > "$T/proxy.log"
mc_expect_fail "$MC" push --layout "$W/lay:v1" "$REGISTRY/team/m:v1" --ca-file "$T/tls/ca.pem" --retries 1
echo "$MC_ERR" > "$OUT/plain-realm.err"
echo "$MC_ERR" | mc_contains "refusing to send credentials over plain HTTP to realm.example:$iport" \
  || mc_fail "credentials to a plain-HTTP realm: $MC_ERR"
grep -q "authorization=yes" "$T/proxy.log" && mc_fail "credentials reached the plain-HTTP realm"
echo '{}' > "$DOCKER_CONFIG/config.json"
mc_expect_fail "$MC" push --layout "$W/lay:v1" "$REGISTRY/team/m:v1" --ca-file "$T/tls/ca.pem" --retries 1
grep -q "^GET http://realm.example:$iport/token?.* authorization=no" "$T/proxy.log" \
  || mc_fail "anonymous token request did not go: $(cat "$T/proxy.log")"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" "$(printf 'alice:%s' "$SECRET" | base64 -w0)" \
  > "$DOCKER_CONFIG/config.json"
mc_run insecure-push push --layout "$W/lay:v1" "$REGISTRY/team/m:v1" --insecure --progress plain
grep -q "authorization=yes" "$T/proxy.log" || mc_fail "--insecure: no credentials sent"
grep -q "^alice repository:team/m:pull,push" "$T/tokens.log" || mc_fail "--insecure push token"
unset http_proxy NO_PROXY

# 3. Redirects: to file:// refused; a presigned URL's query never printed, in errors or /status.
rport=$(mc_free_port)
/usr/bin/python3 "$HERE/redirector.py" "$rport" "file:///etc/passwd" 2>"$T/redir.log" &
MC_CLEANUP+=("kill $! 2>/dev/null")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$rport/" && break; sleep 0.1; done
mc_expect_fail "$MC" pull "127.0.0.1:$rport/r/m:v1" --layout "$W/file:v1" --retries 1
echo "$MC_ERR" | mc_contains "redirect to a file:// URL refused" || mc_fail "file:// redirect: $MC_ERR"
grep -rqs "root:x:0:0" "$W/file" "$OUT" && mc_fail "/etc/passwd was read"
SIG=canary-sig-$RANDOM$RANDOM
dead=$(mc_free_port)
sport=$(mc_free_port)
/usr/bin/python3 "$HERE/redirector.py" "$sport" \
  "http://127.0.0.1:$dead/bucket/blob?X-Amz-Credential=k&X-Amz-Signature=$SIG" 2>"$T/redir2.log" &
MC_CLEANUP+=("kill $! 2>/dev/null")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$sport/" && break; sleep 0.1; done
mc_expect_fail "$MC" pull "127.0.0.1:$sport/r/m@${PINNED#*@}" --store "$W/s7" --retries 1
echo "$MC_ERR" > "$OUT/presigned.err"
echo "$MC_ERR" | mc_contains "http://127.0.0.1:$dead/bucket/blob?<redacted>" || mc_fail "presigned error: $MC_ERR"
echo "127.0.0.1:$sport/r/m@${PINNED#*@}" > "$W/agent-refs2"
port=$(mc_free_port)
"$MC" cache-agent --config "$W/agent-refs2" --store "$W/s8" --status "$W/agent-status2.json" \
  --listen "127.0.0.1:$port" --interval 1 --retries 1 >"$OUT/agent2.out" 2>"$OUT/agent2.err" &
apid=$!
MC_CLEANUP+=("kill $apid 2>/dev/null")
for _ in $(seq 1 300); do
  curl -s "http://127.0.0.1:$port/status" > "$OUT/agent2-status.http" 2>/dev/null || true
  grep -q '"failed"' "$OUT/agent2-status.http" && break
  sleep 0.1
done
curl -s "http://127.0.0.1:$port/metrics" > "$OUT/agent2-metrics.http"
kill $apid; wait $apid 2>/dev/null || true
grep -q "<redacted>" "$OUT/agent2-status.http" || mc_fail "status lacks the redacted error: $(cat "$OUT/agent2-status.http")"
no_secret "$SECRET" "$API_KEY" "$SIG"
echo PASS
