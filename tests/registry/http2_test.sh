#!/usr/bin/env bash
# HTTP/2 against the real docker-registry over TLS: the registry offers h2 by ALPN (checked with
# curl), modelcar negotiates it (MODELCAR_LOG=debug logs each new connection's HTTP version), and
# push and pull over it are byte-exact (read back by skopeo). Plain http:// stays HTTP/1.1.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
T=$MC_TMP
make_tls "$T/tls"
mc_start_registry
unset MC_REGISTRY_TLS_CERT MC_REGISTRY_TLS_KEY
curl -s --http2 -o /dev/null -w '%{http_version}' --cacert "$T/tls/ca.pem" "https://$REGISTRY/v2/" | mc_contains -x 2 || \
  mc_fail "docker-registry does not speak HTTP/2 over TLS here"

make_model "$T/model" 3
"$MC" build "$T/model" --layout "$T/lay:v1" >/dev/null 2>&1 || mc_fail "build failed"
# Chunked too, so PATCH bodies also cross HTTP/2 streams.
for mode in monolithic chunked; do
  pinned=$(MODELCAR_LOG=debug "$MC" push --layout "$T/lay:v1" "$REGISTRY/h2/$mode:v1" --ca-file "$T/tls/ca.pem" \
    --upload-mode $mode --chunk-size-mib 1 --progress none 2>"$T/push-$mode.err" | tail -1)
  [[ "$pinned" == "$REGISTRY/h2/$mode@sha256:"* ]] || mc_fail "$mode push over h2: $(cat "$T/push-$mode.err")"
  grep -q "new connection to $REGISTRY (TLS): HTTP/2" "$T/push-$mode.err" || mc_fail "push did not use HTTP/2: $(cat "$T/push-$mode.err")"
  ! grep -q "HTTP/1" "$T/push-$mode.err" || mc_fail "a push connection fell back to HTTP/1: $(cat "$T/push-$mode.err")"
done
skopeo copy -q --preserve-digests --src-cert-dir "$T/nocerts" --src-tls-verify=false "docker://$REGISTRY/h2/chunked:v1" "oci:$T/sk:v1"
same_files "$T/lay/blobs" "$T/sk/blobs"

# Pull with ranged parallel parts, all on HTTP/2.
MODELCAR_LOG=debug "$MC" pull "$pinned" --layout "$T/pulled:v1" --ca-file "$T/tls/ca.pem" \
  --part-size-mib 1 --parallel-parts 4 --progress none >/dev/null 2>"$T/pull.err" || mc_fail "pull over h2: $(cat "$T/pull.err")"
same_files "$T/lay/blobs" "$T/pulled/blobs"
grep -q "(TLS): HTTP/2" "$T/pull.err" || mc_fail "pull did not use HTTP/2: $(cat "$T/pull.err")"
! grep -q "HTTP/1" "$T/pull.err" || mc_fail "a pull connection fell back to HTTP/1: $(cat "$T/pull.err")"

# Without MODELCAR_LOG nothing is logged; over plain HTTP the client speaks HTTP/1.1.
"$MC" resolve "$pinned" --ca-file "$T/tls/ca.pem" 2>"$T/quiet.err" >/dev/null
[ ! -s "$T/quiet.err" ] || mc_fail "debug lines without MODELCAR_LOG: $(cat "$T/quiet.err")"
mc_start_registry
MODELCAR_LOG=debug "$MC" resolve "$REGISTRY/none/x:v1" --retries 1 2>"$T/plain.err" >/dev/null || true
grep -q "new connection to $REGISTRY (plain): HTTP/1.1" "$T/plain.err" || mc_fail "plain HTTP: $(cat "$T/plain.err")"
echo PASS
