#!/usr/bin/env bash
# Faults between modelcar and the real docker-registry, injected by fault_proxy.py (a test double
# for a broken network or registry): 503 storms with Retry-After, truncated bodies (resume), wrong
# bytes for a digest (DataLoss, nothing visible), a Content-Length over 64 bits on HEAD answers, and
# Ctrl-C mid-pull (nothing corrupt; the next run resumes).
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$(dirname "$0")/lib.sh"
mc_tmpdir
mc_start_registry
T=$MC_TMP
make_model "$T/model" 4
"$MC" build "$T/model" --layout "$T/lay:v1" >/dev/null 2>&1 || mc_fail "build failed"
pinned=$("$MC" push --layout "$T/lay:v1" "$REGISTRY/f/m:v1" --progress none | tail -1)
digest=${pinned#*@}

# 503 on the first 3 blob GETs: retried (Retry-After: 0), pull succeeds.
start_proxy error503 3
"$MC" pull "$PROXY/f/m@$digest" --layout "$T/p503:v1" --progress none >/dev/null || mc_fail "503 storm"
same_files "$T/lay/blobs" "$T/p503/blobs"

# Truncated bodies: resumed with Range, identical result.
start_proxy truncate 2
"$MC" pull "$PROXY/f/m@$digest" --layout "$T/ptrunc:v1" --progress none -j 1 >/dev/null || mc_fail "truncate"
same_files "$T/lay/blobs" "$T/ptrunc/blobs"

# Wrong bytes: DataLoss naming the blob, no layout, no partial file left as a blob.
start_proxy corrupt
mc_expect_fail "$MC" pull "$PROXY/f/m@$digest" --layout "$T/pbad:v1" --progress none
echo "$MC_ERR" | mc_contains "data loss" || mc_fail "corrupt: $MC_ERR"
echo "$MC_ERR" | mc_contains "blob sha256:" || mc_fail "corrupt message lacks the blob: $MC_ERR"
[ ! -e "$T/pbad" ] || mc_fail "a corrupt pull left a layout"

# Bounded retries: a 503 storm longer than --retries fails with a clear message.
start_proxy error503 1000
mc_expect_fail "$MC" pull "$PROXY/f/m@$digest" --layout "$T/pstorm:v1" --retries 2 --progress none
echo "$MC_ERR" | mc_contains "503" || mc_fail "storm: $MC_ERR"

# A Content-Length over 64 bits on HEAD answers: resolve falls back to GET, push stops with a
# clear error (no crash).
start_proxy badlength
r=$("$MC" resolve "$PROXY/f/m:v1") || mc_fail "resolve with a huge HEAD Content-Length"
[ "$r" = "$PROXY/f/m@$digest" ] || mc_fail "resolve printed '$r'"
mc_expect_fail "$MC" push --layout "$T/lay:v1" "$PROXY/f/m:v2" --progress none
echo "$MC_ERR" | mc_contains 'invalid Content-Length "99999999999999999999"' || mc_fail "huge Content-Length: $MC_ERR"

# Ctrl-C mid-transfer (slow proxy): nothing visible, partial bytes kept, next run resumes.
start_proxy slow 400
"$MC" pull "$PROXY/f/m@$digest" --layout "$T/pint:v1" --progress none -j 1 >/dev/null 2>"$T/int.err" &
pid=$!
for _ in $(seq 1 100); do
  sz=$(du -sb "$T/.pint.modelcar-pull" 2>/dev/null | cut -f1 || echo 0)
  [ "${sz:-0}" -gt 200000 ] && break
  sleep 0.1
done
kill -INT $pid
wait $pid && mc_fail "interrupted pull exited 0"
grep -qi "interrupted\|cancel" "$T/int.err" || mc_fail "interrupt message: $(cat "$T/int.err")"
[ ! -e "$T/pint/index.json" ] || mc_fail "interrupted pull left a visible layout"
left=$(du -sb "$T/.pint.modelcar-pull" | cut -f1)
[ "$left" -gt 0 ] || mc_fail "no partial bytes kept for resume"
"$MC" pull "$REGISTRY/f/m@$digest" --layout "$T/pint:v1" --progress json -j 1 >/dev/null 2>"$T/resume.err" || mc_fail "resume"
same_files "$T/lay/blobs" "$T/pint/blobs"
echo PASS
