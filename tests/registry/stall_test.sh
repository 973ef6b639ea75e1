#!/usr/bin/env bash
# Stall detection against the real docker-registry behind fault_proxy.py: a blob body that stops
# mid-way (the connection stays open) is detected within --stall-timeout and resumed with Range,
# for a layout pull and a node store pull; an upload the registry stops reading is sent again (by
# push, and by build --push building again); a
# slow but moving transfer is not cut.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
mc_start_registry
T=$MC_TMP
make_model "$T/model" 1
"$MC" build "$T/model" --layout "$T/lay:v1" >/dev/null 2>&1 || mc_fail "build failed"
pinned=$("$MC" push --layout "$T/lay:v1" "$REGISTRY/s/m:v1" --progress none | tail -1)
digest=${pinned#*@}

# The first blob GET stops after half its body (for 120 s): with --stall-timeout 2 the pull
# notices, resumes from the bytes it has and finishes long before the proxy gives up.
for mode in layout store; do
  start_proxy stall 1
  dest=(--layout "$T/stall-$mode:v1")
  [ $mode = store ] && dest=(--store "$T/store")
  t0=$(date +%s)
  "$MC" pull "$PROXY/s/m@$digest" "${dest[@]}" --stall-timeout 2 -j 1 --progress none >/dev/null \
    2>"$T/$mode.err" || mc_fail "$mode pull after a stall: $(cat "$T/$mode.err")"
  took=$(($(date +%s) - t0))
  [ "$took" -lt 15 ] || mc_fail "$mode: stall detected only after ${took}s"
  grep -q "^GET /v2/s/m/blobs/sha256:.* Range: bytes=[1-9]" "$PROXY_LOG" || \
    mc_fail "$mode: no resume after the stall: $(cat "$PROXY_LOG")"
done
same_files "$T/lay/blobs" "$T/stall-layout/blobs"
"$MC" store verify --store "$T/store" >/dev/null 2>"$T/verify.err" || mc_fail "store verify after the stalled pull: $(cat "$T/verify.err")"

# Slow but moving (about 400 KiB/s, so the 1 MiB layer takes ~2.5 s, longer than the 1 s stall
# timeout): never cut, no second request for any blob.
start_proxy slow 400
"$MC" pull "$PROXY/s/m@$digest" --layout "$T/slow:v1" --stall-timeout 1 -j 1 --progress none \
  >/dev/null 2>"$T/slow.err" || mc_fail "slow pull: $(cat "$T/slow.err")"
same_files "$T/lay/blobs" "$T/slow/blobs"
! grep -q "Range:" "$PROXY_LOG" || mc_fail "a slow transfer was cut and resumed: $(cat "$PROXY_LOG")"
[ "$(grep -c '^GET /v2/s/m/blobs/' "$PROXY_LOG")" = "$(ls "$T/lay/blobs/sha256" | grep -vc "${digest#sha256:}")" ] || \
  mc_fail "blobs fetched more than once: $(cat "$PROXY_LOG")"

# Uploads: the first blob upload over 64 KiB stops being read after 64 KiB; the push notices within
# --stall-timeout, uploads again and gives the same digest.
for mode in monolithic chunked; do
  start_proxy uploadstall 1
  t0=$(date +%s%N)
  p=$("$MC" push --layout "$T/lay:v1" "$PROXY/s/up-$mode:v1" --upload-mode $mode --stall-timeout 2 -j 1 \
    --progress none 2>"$T/up.err" | tail -1) || mc_fail "$mode push after an upload stall: $(cat "$T/up.err")"
  took=$((($(date +%s%N) - t0) / 1000000))
  [ "$p" = "$PROXY/s/up-$mode@$digest" ] || mc_fail "$mode push printed '$p'"
  [ "$took" -lt 15000 ] || mc_fail "$mode: upload stall detected only after ${took} ms"
  [ "$took" -ge 1900 ] || mc_fail "$mode: no upload stalled (${took} ms; $(cat "$PROXY_LOG"))"
done

# build --push streams each layer as one upload: a stalled one cannot be resumed, so the build runs
# again and pushes the same digest.
start_proxy uploadstall 1
p=$("$MC" build "$T/model" --push "$PROXY/s/built:v1" --stall-timeout 2 2>"$T/bp.err" | tail -1) ||
  mc_fail "build --push after an upload stall: $(cat "$T/bp.err")"
[ "$p" = "$PROXY/s/built@$digest" ] || mc_fail "build --push printed '$p'"
grep -q "stalled.*building and sending again" "$T/bp.err" ||
  mc_fail "build --push: no upload stalled ($(cat "$T/bp.err"))"

mc_expect_fail "$MC" pull "$REGISTRY/s/m@$digest" --layout "$T/bad:v1" --stall-timeout 0
echo "$MC_ERR" | mc_contains -- "--stall-timeout" || mc_fail "--stall-timeout 0: $MC_ERR"
echo PASS
