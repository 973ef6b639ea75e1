#!/usr/bin/env bash
# Docker credential helpers against the real docker-registry with htpasswd: Debian's
# docker-credential-pass over a throwaway pass store (GPG key without passphrase, all in the temp
# dir) answers for the registry through credHelpers, then through credsStore; every command that
# takes registry credentials works with it, runs the helper at most once, and never prints the
# secret (MODELCAR_LOG=debug). An identity token ("<token>") from a helper goes through the
# refresh-token grant of a token-auth registry. A helper that is missing, fails, answers garbage
# or hangs gives an error naming the helper and the registry, never its output.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
T=$MC_TMP
source "$(dirname "$0")/commands.sh"
SECRET=canary-helper-pw-$RANDOM$RANDOM
htpasswd -Bbn alice "$SECRET" > "$T/htpasswd" 2>/dev/null
mc_start_registry "auth: {htpasswd: {realm: modelcar-test, path: $T/htpasswd}}"
"$MC" testmodel --shape tiny --out "$T/model" >/dev/null  # before HOME moves (npm tokenizer cache)
# (unset, not empty: docker-registry reads REGISTRY_* variables as configuration)
unset REGISTRY_AUTH_FILE
export HOME=$T/home DOCKER_CONFIG=$T/dc MODELCAR_LOG=debug
mkdir -p "$HOME" "$DOCKER_CONFIG" "$T/bin"
make_pass_store "$T"
printf '{"ServerURL":"%s","Username":"alice","Secret":"%s"}' "$REGISTRY" "$SECRET" | docker-credential-pass store \
  || mc_fail "docker-credential-pass store"

# docker-credential-counted: logs each run, then is docker-credential-pass.
cat > "$T/bin/docker-credential-counted" <<SH
#!/bin/sh
echo "\$1" >> "$T/helper-runs"
exec docker-credential-pass "\$@"
SH
chmod +x "$T/bin/docker-credential-counted"
export PATH=$T/bin:$PATH

# Without credentials: refused, naming the registry.
echo '{}' > "$DOCKER_CONFIG/config.json"
mc_expect_fail "$MC" resolve "$REGISTRY/every/m:v1"
echo "$MC_ERR" | mc_contains "$REGISTRY" || mc_fail "no-credential message: $MC_ERR"

# credHelpers: every command.
printf '{"credHelpers":{"%s":"counted"}}' "$REGISTRY" > "$DOCKER_CONFIG/config.json"
: > "$T/helper-runs"
every_push_command "$T/model" "$REGISTRY/every/m"
n=$(wc -l < "$T/helper-runs")
[ "$n" -le 6 ] || mc_fail "6 registry commands ran the helper $n times (once at most each: cached)"
grep -qv '^get$' "$T/helper-runs" && mc_fail "helper called with other than get: $(cat "$T/helper-runs")"
every_node_command "$PINNED" "$REGISTRY/every/m:v1"
same_files "$W/lay/blobs" "$W/pulled/blobs"
cmp "$W/fetched/model.safetensors" "$T/model/model.safetensors" || mc_fail "fetched weights differ"
no_secret "$SECRET"

# credsStore, with a config that has no entry for the registry otherwise.
printf '{"credsStore":"pass","auths":{"other.example":{"auth":"eDp5"}}}' > "$DOCKER_CONFIG/config.json"
[ "$("$MC" resolve "$REGISTRY/every/m:v1")" = "$PINNED" ] || mc_fail "credsStore resolve"

# credHelpers wins over auths (whose password is wrong).
printf '{"credHelpers":{"%s":"pass"},"auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" "$REGISTRY" \
  "$(printf 'alice:wrong' | base64 -w0)" > "$DOCKER_CONFIG/config.json"
[ "$("$MC" resolve "$REGISTRY/every/m:v1")" = "$PINNED" ] || mc_fail "credHelpers before auths"

# A helper with nothing for the registry: the next source (auths) answers; with none, a clear 401.
printf '{"credsStore":"pass","auths":{"%s":{"auth":"%s"}}}' "$REGISTRY" \
  "$(printf 'alice:%s' "$SECRET" | base64 -w0)" > "$DOCKER_CONFIG/config.json"
"$MC" resolve "$REGISTRY/every/m:v1" >/dev/null || mc_fail "auths after an empty credsStore answer"
echo "{\"credsStore\":\"pass\"}" > "$DOCKER_CONFIG/config.json"
docker-credential-pass erase <<< "$REGISTRY" || mc_fail "erase"
mc_expect_fail "$MC" resolve "$REGISTRY/every/m:v1"
echo "$MC_ERR" | mc_contains "requires a username and password" || mc_fail "helper without an entry: $MC_ERR"

# Broken helpers: the error names the helper and the registry, never the helper's output.
cat > "$T/bin/docker-credential-broken" <<SH
#!/bin/sh
case "\$(cat "$T/broken-mode")" in
  fail) echo "$SECRET"; echo "$SECRET" >&2; exit 3 ;;
  garbage) echo "{\"Username\": \"$SECRET\"" ;;
  slow) sleep 60 ;;
esac
SH
chmod +x "$T/bin/docker-credential-broken"
for mode in missing fail garbage slow; do
  helper=broken; [ $mode = missing ] && helper=absent
  echo $mode > "$T/broken-mode"
  printf '{"credHelpers":{"%s":"%s"}}' "$REGISTRY" "$helper" > "$DOCKER_CONFIG/config.json"
  MODELCAR_CREDENTIAL_HELPER_TIMEOUT=1 mc_expect_fail "$MC" pull "$PINNED" --layout "$W/broken-$mode:v1" --retries 1
  echo "$MC_ERR" > "$OUT/broken-$mode.err"
  echo "$MC_ERR" | mc_contains "docker-credential-$helper" || mc_fail "$mode: helper not named: $MC_ERR"
  echo "$MC_ERR" | mc_contains "registry $REGISTRY" || mc_fail "$mode: registry not named: $MC_ERR"
  case $mode in
    missing) want="not installed" ;; fail) want="exited with status 3" ;;
    garbage) want="JSON" ;; slow) want="no answer within 1 s" ;;
  esac
  echo "$MC_ERR" | mc_contains "$want" || mc_fail "$mode: expected '$want': $MC_ERR"
  [ ! -e "$W/broken-$mode" ] || [ -z "$(ls -A "$W/broken-$mode")" ] || mc_fail "$mode: files left"
done
no_secret "$SECRET"

# "<token>": an identity token for the refresh-token grant of a token-auth registry.
REG1=$REGISTRY
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tok.key" -out "$T/tok.pem" -days 2 \
  -subj /CN=modelcar-token-issuer 2>/dev/null
REFRESH=canary-refresh-$RANDOM$RANDOM
iport=$(mc_free_port)
ISSUER_REFRESH_TOKEN=$REFRESH /usr/bin/python3 "$HERE/token_issuer.py" "$iport" "$T/tok.key" "$T/tok.pem" \
  modelcar-test bob "pw-$RANDOM" "$T/tokens.log" 2>"$T/issuer.err" &
MC_CLEANUP+=("kill $! 2>/dev/null")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$iport/token" && break; sleep 0.1; done
mc_start_registry "auth: {token: {realm: 'http://127.0.0.1:$iport/token', service: modelcar-test, issuer: modelcar-test-issuer, rootcertbundle: $T/tok.pem}}"
printf '{"ServerURL":"%s","Username":"<token>","Secret":"%s"}' "$REGISTRY" "$REFRESH" | docker-credential-pass store
printf '{"credHelpers":{"%s":"pass"}}' "$REGISTRY" > "$DOCKER_CONFIG/config.json"
mc_run token-push push --layout "$W/lay:v1" "$REGISTRY/team/m:v1" --progress plain
grep -q "^bob repository:team/m:pull,push" "$T/tokens.log" || mc_fail "no token from the refresh grant: $(cat "$T/tokens.log")"
printf '{"ServerURL":"%s","Username":"<token>","Secret":"wrong-%s"}' "$REGISTRY" "$RANDOM" | docker-credential-pass store
mc_expect_fail "$MC" resolve "$REGISTRY/team/m:v1"
echo "$MC_ERR" | mc_contains "refused the credentials from credential helper docker-credential-pass" \
  || mc_fail "rejected identity token: $MC_ERR"
echo "$MC_ERR" > "$OUT/token-refused.err"
no_secret "$SECRET" "$REFRESH"
echo PASS
