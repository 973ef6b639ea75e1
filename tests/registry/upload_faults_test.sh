#!/usr/bin/env bash
# Upload faults between modelcar and the real docker-registry, injected by fault_proxy.py:
#   - a chunked PATCH the registry applied whose answer was lost (the upload URL's state is then
#     stale: docker-registry answers 404 BLOB_UPLOAD_INVALID to it) -> the upload is started again;
#   - a 502 on the first PATCH (the registry's "Range: 0-0" for an empty upload is not one byte),
#     and 502s on the upload status GETs as well (asked again);
#   - a registry that answers 416 to a PATCH -> the client GETs the upload URL, reads Range and
#     resumes from there;
#   - --upload-mode auto against a proxy that refuses big monolithic PUTs (413) -> chunked.
# Each push must give the layout's manifest digest, and skopeo / modelcar pull identical bytes.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
mc_start_registry
T=$MC_TMP
make_model "$T/model" 3
"$MC" build "$T/model" --layout "$T/lay:v1" >/dev/null 2>&1 || mc_fail "build failed"
built=$(cd "$T/lay" && /usr/bin/python3 -c 'import json;print(json.load(open("index.json"))["manifests"][0]["digest"])')

# The pushed image reads back byte-exact through skopeo and modelcar.
check_pushed() {  # REPO
  skopeo copy -q --preserve-digests --src-tls-verify=false "docker://$REGISTRY/$1@$built" "oci:$T/sk-${1//\//-}:v1"
  same_files "$T/lay/blobs" "$T/sk-${1//\//-}/blobs"
  "$MC" pull "$REGISTRY/$1@$built" --layout "$T/mc-${1//\//-}:v1" --progress none >/dev/null || mc_fail "pull $1"
  same_files "$T/lay/blobs" "$T/mc-${1//\//-}/blobs"
}

# Lost PATCH answers: the 2nd and 3rd PATCH reach the registry but their answers never come back.
start_proxy patchlost 2
p=$("$MC" push --layout "$T/lay:v1" "$PROXY/up/lost:v1" --upload-mode chunked --chunk-size-mib 1 \
  -j 1 --progress none 2>"$T/lost.err" | tail -1) || mc_fail "push with lost PATCH answers: $(cat "$T/lost.err")"
[ "$p" = "$PROXY/up/lost@$built" ] || mc_fail "lost: push printed '$p'"
[ "$(grep -c '^PATCH' "$PROXY_LOG")" -gt 3 ] || mc_fail "lost: no PATCH was sent again: $(cat "$PROXY_LOG")"
check_pushed up/lost

# 502 on the very first PATCH (nothing reached the registry): the upload URL then reports
# "Range: 0-0", which means empty, so the resume starts again at byte 0.
start_proxy patch502 1
p=$("$MC" push --layout "$T/lay:v1" "$PROXY/up/first:v1" --upload-mode chunked --chunk-size-mib 1 \
  -j 1 --progress none 2>"$T/502.err" | tail -1) || mc_fail "push with a 502 on the first PATCH: $(cat "$T/502.err")"
[ "$p" = "$PROXY/up/first@$built" ] || mc_fail "502: push printed '$p'"
check_pushed up/first

# 502s on two PATCHes and on the first two upload status GETs: the status is asked again.
start_proxy flaky502 2
p=$("$MC" push --layout "$T/lay:v1" "$PROXY/up/flaky:v1" --upload-mode chunked --chunk-size-mib 1 \
  -j 1 --progress none 2>"$T/flaky.err" | tail -1) || mc_fail "push with 502s on PATCH and status: $(cat "$T/flaky.err")"
[ "$p" = "$PROXY/up/flaky@$built" ] || mc_fail "flaky: push printed '$p'"
[ "$(grep -c '^GET /v2/up/flaky/blobs/uploads/' "$PROXY_LOG")" -ge 3 ] || mc_fail "flaky: status not asked again: $(cat "$PROXY_LOG")"
check_pushed up/flaky

# 416 on PATCHes past offset 0: GET the upload URL, resume at its Range.
start_proxy patch416 2
p=$("$MC" push --layout "$T/lay:v1" "$PROXY/up/range:v1" --upload-mode chunked --chunk-size-mib 1 \
  -j 1 --progress none 2>"$T/416.err" | tail -1) || mc_fail "push with 416: $(cat "$T/416.err")"
[ "$p" = "$PROXY/up/range@$built" ] || mc_fail "416: push printed '$p'"
grep -q '^GET /v2/up/range/blobs/uploads/' "$PROXY_LOG" || mc_fail "416: upload status never asked"
check_pushed up/range

# auto: a monolithic PUT over 1 MiB is refused (413) -> chunked PATCHes; small blobs stay monolithic.
start_proxy refuse413 1048576
p=$("$MC" push --layout "$T/lay:v1" "$PROXY/up/auto:v1" --upload-mode auto --chunk-size-mib 1 \
  --progress none 2>"$T/auto.err" | tail -1) || mc_fail "auto push: $(cat "$T/auto.err")"
[ "$p" = "$PROXY/up/auto@$built" ] || mc_fail "auto: push printed '$p'"
grep -q '^PATCH' "$PROXY_LOG" || mc_fail "auto: no chunked fallback"
check_pushed up/auto
# ... while --upload-mode monolithic gives up with the 413 named.
start_proxy refuse413 1048576
mc_expect_fail "$MC" push --layout "$T/lay:v1" "$PROXY/up/mono:v1" --upload-mode monolithic --progress none
echo "$MC_ERR" | mc_contains "413" || mc_fail "monolithic 413: $MC_ERR"
! grep -q '^PATCH' "$PROXY_LOG" || mc_fail "monolithic mode sent PATCHes"
echo PASS
