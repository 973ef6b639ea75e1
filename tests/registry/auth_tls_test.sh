#!/usr/bin/env bash
# Basic auth (htpasswd) and TLS with a self-signed CA against the real docker-registry: clear
# errors naming the registry, repository and auth file; credentials never printed; --ca-file and
# --insecure.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
T=$MC_TMP
PASS_WORD=s3cret-Pa55-$RANDOM
htpasswd -Bbn alice "$PASS_WORD" > "$T/htpasswd" 2>/dev/null

# A CA and a server certificate for 127.0.0.1 ($T/ca.pem, $T/srv.pem).
make_tls "$T"
mc_start_registry "auth: {htpasswd: {realm: modelcar-test, path: $T/htpasswd}}"
unset MC_REGISTRY_TLS_CERT MC_REGISTRY_TLS_KEY

make_model "$T/model" 1
"$MC" build "$T/model" --layout "$T/lay:v1" >/dev/null 2>&1 || mc_fail "build failed"
export HOME=$T/home DOCKER_CONFIG= REGISTRY_AUTH_FILE=
mkdir -p "$HOME"

# TLS: untrusted without --ca-file.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.key" -out "$T/other.pem" -days 2 \
  -subj /CN=other-ca 2>/dev/null
mc_expect_fail "$MC" resolve "$REGISTRY/secure/m:v1" --ca-file "$T/other.pem"
echo "$MC_ERR" | mc_contains "not trusted" || mc_fail "untrusted TLS message: $MC_ERR"
mc_expect_fail "$MC" push --layout "$T/lay:v1" "$REGISTRY/secure/m:v1" --plain-http --retries 1

# No credentials: 401 names registry, repo and says no auth file was found.
mc_expect_fail "$MC" push --layout "$T/lay:v1" "$REGISTRY/secure/m:v1" --ca-file "$T/ca.pem"
echo "$MC_ERR" | mc_contains "$REGISTRY" || mc_fail "401 message lacks the registry: $MC_ERR"
echo "$MC_ERR" | mc_contains "secure/m" || mc_fail "401 message lacks the repository: $MC_ERR"
echo "$MC_ERR" | mc_contains "no auth file" || mc_fail "401 message lacks the auth source: $MC_ERR"

# Wrong password: rejected, message names the auth file, password not printed.
wrong=$(printf 'alice:wrong-%s' "$RANDOM" | base64)
printf '{"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" "$wrong" > "$T/bad.json"
mc_expect_fail "$MC" push --layout "$T/lay:v1" "$REGISTRY/secure/m:v1" --ca-file "$T/ca.pem" --authfile "$T/bad.json"
echo "$MC_ERR" | mc_contains "$T/bad.json" || mc_fail "message lacks the auth file: $MC_ERR"
echo "$MC_ERR" | mc_contains "wrong-" && mc_fail "password printed"

# Good credentials via --authfile (Kubernetes .dockerconfigjson format, https:// key).
good=$(printf 'alice:%s' "$PASS_WORD" | base64 -w0)
printf '{"auths":{"https://%s":{"auth":"%s"}}}' "$REGISTRY" "$good" > "$T/good.json"
pinned=$("$MC" push --layout "$T/lay:v1" "$REGISTRY/secure/m:v1" --ca-file "$T/ca.pem" \
  --authfile "$T/good.json" --progress plain 2>"$T/push.err" | tail -1)
[[ "$pinned" == "$REGISTRY/secure/m@sha256:"* ]] || mc_fail "push printed '$pinned'"
grep -q "$PASS_WORD" "$T/push.err" && mc_fail "password printed in progress"

# $DOCKER_CONFIG/config.json with username/password fields, and --insecure instead of a CA.
mkdir -p "$T/dc"
printf '{"auths":{"%s":{"username":"alice","password":"%s"}}}' "$REGISTRY" "$PASS_WORD" > "$T/dc/config.json"
r=$(DOCKER_CONFIG=$T/dc "$MC" resolve "$REGISTRY/secure/m:v1" --insecure)
[ "$r" = "$pinned" ] || mc_fail "resolve via DOCKER_CONFIG gave '$r'"
DOCKER_CONFIG=$T/dc "$MC" pull "$pinned" --layout "$T/pulled:v1" --ca-file "$T/ca.pem" --progress none >/dev/null
same_files "$T/lay/blobs" "$T/pulled/blobs"

# skopeo reads what modelcar pushed over TLS + auth.
skopeo inspect --raw --cert-dir /nonexistent --tls-verify=false --creds "alice:$PASS_WORD" \
  "docker://$REGISTRY/secure/m:v1" | sha256sum | mc_contains "${pinned#*@sha256:}" || mc_fail "skopeo digest"
echo PASS
