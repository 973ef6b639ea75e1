#!/usr/bin/env bash
# Proxies from the environment, through env_proxy.py (a recording proxy) in front of the real
# docker-registry: HTTPS_PROXY (CONNECT tunnel, credentials in the proxy URL) for a TLS registry,
# http_proxy and HTTP_PROXY (absolute-form requests) for a plain one, NO_PROXY bypasses them; the
# proxy password never appears in any output, also when the proxy refuses it or is down.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
T=$MC_TMP
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY no_proxy NO_PROXY all_proxy ALL_PROXY
make_tls "$T/tls"
mc_start_registry
TLS_REG=$REGISTRY
unset MC_REGISTRY_TLS_CERT MC_REGISTRY_TLS_KEY
mc_start_registry
PLAIN_REG=$REGISTRY
CA=(--ca-file "$T/tls/ca.pem")

make_model "$T/model" 1
"$MC" build "$T/model" --layout "$T/lay:v1" >/dev/null 2>&1 || mc_fail "build failed"
tls_ref=$("$MC" push --layout "$T/lay:v1" "$TLS_REG/p/m:v1" "${CA[@]}" --progress none | tail -1)
plain_ref=$("$MC" push --layout "$T/lay:v1" "$PLAIN_REG/p/m:v1" --progress none | tail -1)

start_env_proxy() {  # LOG [USER:PASSWORD]; sets EPORT
  EPORT=$(mc_free_port)
  /usr/bin/python3 "$HERE/env_proxy.py" "$EPORT" "$@" 2>>"$T/env_proxy.err" &
  local pid=$!
  MC_CLEANUP+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --noproxy '' -x "http://127.0.0.1:$EPORT" "http://$PLAIN_REG/v2/" && return 0
    sleep 0.1
  done
  mc_fail "env_proxy did not start"
}
PXPW=proxy-Pw-$RANDOM$RANDOM
start_env_proxy "$T/auth.log" "alice:$PXPW"
AUTH_PORT=$EPORT
start_env_proxy "$T/open.log"
OPEN_PORT=$EPORT
: > "$T/auth.log"
: > "$T/open.log"

# HTTPS_PROXY with credentials: the TLS pull is tunnelled (CONNECT, as alice), byte-exact.
HTTPS_PROXY="http://alice:$PXPW@127.0.0.1:$AUTH_PORT" MODELCAR_LOG=debug \
  "$MC" pull "$tls_ref" --layout "$T/via-https:v1" "${CA[@]}" --progress plain >"$T/https.out" 2>"$T/https.err" \
  || mc_fail "pull through HTTPS_PROXY: $(cat "$T/https.err")"
same_files "$T/lay/blobs" "$T/via-https/blobs"
grep -q "^CONNECT $TLS_REG user=alice" "$T/auth.log" || mc_fail "no CONNECT through the proxy: $(cat "$T/auth.log")"
grep -q "$PXPW" "$T/https.out" "$T/https.err" && mc_fail "proxy password printed"

# http_proxy (curl reads the lower-case name for http:// URLs): absolute-form requests.
http_proxy="http://127.0.0.1:$OPEN_PORT" "$MC" pull "$plain_ref" --layout "$T/via-http:v1" --progress none \
  >/dev/null 2>"$T/http.err" || mc_fail "pull through http_proxy: $(cat "$T/http.err")"
same_files "$T/lay/blobs" "$T/via-http/blobs"
grep -q "^GET http://$PLAIN_REG/v2/p/m/blobs/sha256:" "$T/open.log" || mc_fail "no blob GET through the proxy: $(cat "$T/open.log")"

# ... and the upper-case HTTP_PROXY too (as docker and Go do; curl alone ignores it).
: > "$T/open.log"
HTTP_PROXY="http://127.0.0.1:$OPEN_PORT" "$MC" pull "$plain_ref" --layout "$T/via-HTTP:v1" --progress none \
  >/dev/null 2>"$T/http.err" || mc_fail "pull through HTTP_PROXY: $(cat "$T/http.err")"
same_files "$T/lay/blobs" "$T/via-HTTP/blobs"
grep -q "^GET http://$PLAIN_REG/v2/p/m/blobs/sha256:" "$T/open.log" || mc_fail "HTTP_PROXY not used: $(cat "$T/open.log")"

# NO_PROXY bypasses all of them.
before=$(cat "$T/auth.log" "$T/open.log" | wc -l)
for np in NO_PROXY no_proxy; do
  env "$np=127.0.0.1" HTTPS_PROXY="http://alice:$PXPW@127.0.0.1:$AUTH_PORT" http_proxy="http://127.0.0.1:$OPEN_PORT" \
    "$MC" pull "$tls_ref" --layout "$T/np-$np-tls:v1" "${CA[@]}" --progress none >/dev/null 2>"$T/np.err" || mc_fail "$np tls: $(cat "$T/np.err")"
  env "$np=127.0.0.1" http_proxy="http://127.0.0.1:$OPEN_PORT" \
    "$MC" pull "$plain_ref" --layout "$T/np-$np-plain:v1" --progress none >/dev/null 2>"$T/np.err" || mc_fail "$np plain: $(cat "$T/np.err")"
  env "$np=127.0.0.1" HTTP_PROXY="http://127.0.0.1:$OPEN_PORT" \
    "$MC" pull "$plain_ref" --layout "$T/np-$np-PLAIN:v1" --progress none >/dev/null 2>"$T/np.err" || mc_fail "$np HTTP_PROXY: $(cat "$T/np.err")"
done
[ "$(cat "$T/auth.log" "$T/open.log" | wc -l)" = "$before" ] || mc_fail "NO_PROXY did not bypass the proxy: $(cat "$T/auth.log" "$T/open.log")"

# A refused proxy password (407) and a proxy that is down: clear errors, the password never shown.
BAD=wrong-$RANDOM$RANDOM
mc_expect_fail env HTTPS_PROXY="http://alice:$BAD@127.0.0.1:$AUTH_PORT" MODELCAR_LOG=debug \
  "$MC" pull "$tls_ref" --layout "$T/bad:v1" "${CA[@]}" --retries 1 --progress plain
echo "$MC_ERR" | mc_contains "proxy refused the credentials (HTTP 407)" || mc_fail "407 from the proxy: $MC_ERR"
echo "$MC_ERR" | mc_contains "$BAD" && mc_fail "refused proxy password printed: $MC_ERR"
dead=$(mc_free_port)
mc_expect_fail env HTTPS_PROXY="http://alice:$PXPW@127.0.0.1:$dead" MODELCAR_LOG=debug \
  "$MC" pull "$tls_ref" --layout "$T/dead:v1" "${CA[@]}" --retries 1 --progress plain
echo "$MC_ERR" | mc_contains "HTTPS_PROXY is set: the proxy may be down" || mc_fail "dead proxy: $MC_ERR"
echo "$MC_ERR" | mc_contains "$PXPW" && mc_fail "proxy password printed for a dead proxy: $MC_ERR"
[ ! -e "$T/bad" ] && [ ! -e "$T/dead" ] || mc_fail "a failed pull left a layout"
echo PASS
