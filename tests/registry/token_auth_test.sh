#!/usr/bin/env bash
# Bearer-token auth against the real docker-registry with a small token issuer (token_issuer.py):
# challenge -> token with scope (Basic credentials from the auth file, or anonymous for public
# repositories), tokens cached per scope, clear errors without credentials.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
T=$MC_TMP
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tok.key" -out "$T/tok.pem" -days 2 \
  -subj /CN=modelcar-token-issuer 2>/dev/null
PW=tok-pw-$RANDOM
iport=$(mc_free_port)
/usr/bin/python3 "$(dirname "$0")/token_issuer.py" "$iport" "$T/tok.key" "$T/tok.pem" modelcar-test \
  alice "$PW" "$T/tokens.log" 2>"$T/issuer.err" &
ipid=$!
MC_CLEANUP+=("kill $ipid 2>/dev/null; wait $ipid 2>/dev/null")
mc_start_registry "auth: {token: {realm: 'http://127.0.0.1:$iport/token', service: modelcar-test, issuer: modelcar-test-issuer, rootcertbundle: $T/tok.pem}}"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$iport/token" && break; sleep 0.1; done

make_model "$T/model" 2
"$MC" build "$T/model" --layout "$T/lay:v1" >/dev/null 2>&1 || mc_fail "build failed"
export HOME=$T/home DOCKER_CONFIG= REGISTRY_AUTH_FILE=
mkdir -p "$HOME/.docker"

# Anonymous push: the token has no push right -> clear 401 naming registry, repo, auth source.
mc_expect_fail "$MC" push --layout "$T/lay:v1" "$REGISTRY/team/m:v1" --progress none
echo "$MC_ERR" | mc_contains "unauthenticated" || mc_fail "anonymous push: $MC_ERR"
echo "$MC_ERR" | mc_contains "$REGISTRY" || mc_fail "message lacks registry: $MC_ERR"
echo "$MC_ERR" | mc_contains "no auth file" || mc_fail "message lacks auth source: $MC_ERR"

# ~/.docker/config.json credentials: push works; tokens are cached per scope.
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" "$(printf 'alice:%s' "$PW" | base64 -w0)" > "$HOME/.docker/config.json"
: > "$T/tokens.log"
pinned=$("$MC" push --layout "$T/lay:v1" "$REGISTRY/team/m:v1" --progress none | tail -1)
[[ "$pinned" == "$REGISTRY/team/m@sha256:"* ]] || mc_fail "push printed '$pinned'"
n=$(wc -l < "$T/tokens.log")
[ "$n" -le 2 ] || mc_fail "push fetched $n tokens (not cached per scope): $(cat "$T/tokens.log")"
grep -q "alice repository:team/m:pull,push" "$T/tokens.log" || mc_fail "token scope: $(cat "$T/tokens.log")"
grep -q "$PW" "$T/issuer.err" && mc_fail "password leaked"

# Pull with the same credentials, byte-exact.
"$MC" pull "$pinned" --layout "$T/pulled:v1" --progress none >/dev/null
same_files "$T/lay/blobs" "$T/pulled/blobs"

# copy into a public repository (mount needs a token for both scopes), then anonymous pull of it.
"$MC" copy "$REGISTRY/team/m:v1" "$REGISTRY/public/m:v1" --progress plain 2>"$T/copy.err" >/dev/null
grep -q "^mounted" "$T/copy.err" || mc_fail "copy did not mount: $(cat "$T/copy.err")"
rm "$HOME/.docker/config.json"
"$MC" pull "$REGISTRY/public/m:v1" --layout "$T/anon:v1" --progress none >/dev/null || mc_fail "anonymous pull of public repo"
same_files "$T/lay/blobs" "$T/anon/blobs"
grep -q "anonymous repository:public/m:pull" "$T/tokens.log" || mc_fail "no anonymous token"
# ... but not of the private one.
mc_expect_fail "$MC" pull "$REGISTRY/team/m:v1" --layout "$T/no:v1" --progress none
echo "$MC_ERR" | mc_contains "team/m" || mc_fail "private pull message: $MC_ERR"
echo PASS
