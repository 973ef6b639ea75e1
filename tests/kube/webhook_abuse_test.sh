#!/usr/bin/env bash
# `modelcar webhook` (HTTPS, default settings) under 200 concurrent hostile connections for 40 s
# (tests/lib/abuse.py: TCP connections that never start TLS, request-line-only connections,
# slowloris headers, slow bodies, 40 MB header floods, AdmissionReviews nested 100,000 deep or
# with 100,000 values, bodies cut off by a reset) while /healthz answers every 0.2 s in under 1 s and real
# AdmissionReviews keep being patched; RSS stays under the 128 Mi limit of deploy/webhook;
# /metrics counts the refusals. Before that, reviews nested 100,000 deep, with 100,000 values and
# of 5 MiB: 400, 400, 413.
# With failurePolicy Fail a webhook that crashes or stalls blocks every pod creation.
source "$MODELCAR_SRC/tests/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
mc_tmpdir
cd "$MC_TMP"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=abuse" -addext "subjectAltName=IP:127.0.0.1" -keyout key.pem -out cert.pem 2>/dev/null
/usr/bin/python3 - "$here/testdata/admission_review.json" <<'PY'
import json, sys
review = open(sys.argv[1]).read()
d = 100000
deep = review.replace('"spec": {', '"spec": {"x": ' + "[" * d + "]" * d + ", ", 1)
assert deep != review
open("deep.json", "w").write(deep)
# 100,000 values in 300 KB: inside the 4 MiB body limit, beyond the review's 50,000-value limit.
open("wide.json", "w").write(review.replace('"spec": {', '"spec": {"x": [' + ",".join(["{}"] * 100000) + '], ', 1))
open("huge.json", "w").write(review.replace('"spec": {', '"spec": {"x": "' + "h" * (5 << 20) + '", ', 1))
PY
port=$(mc_free_port)
"$MODELCAR_BIN" webhook --host 127.0.0.1 --port "$port" --tls-cert cert.pem --tls-key key.pem \
  2> webhook.log &
pid=$!
MC_CLEANUP+=("kill $pid 2>/dev/null")
for i in $(seq 1 100); do
  curl -sf --cacert cert.pem "https://127.0.0.1:$port/readyz" >/dev/null && break
  kill -0 $pid 2>/dev/null || { cat webhook.log; mc_fail "webhook exited"; }
  sleep 0.1
done

for kind in deep wide huge; do
  want=400; [ $kind = huge ] && want=413
  got=$(curl -sS -o /dev/null -w '%{http_code}' --cacert cert.pem --max-time 60 \
    "https://127.0.0.1:$port/mutate-pods" -H 'Content-Type: application/json' \
    --data-binary "@$kind.json") || got="curl failed"
  [ "$got" = $want ] || mc_fail "$kind review: $got, want $want"
done
echo "webhook_abuse_test: deep, wide and huge AdmissionReviews: 400, 400, 413"

/usr/bin/python3 "$MODELCAR_SRC/tests/lib/abuse.py" run --url "https://127.0.0.1:$port" \
  --cafile cert.pem --pid "$pid" --health /healthz --post /mutate-pods --deep deep.json --wide wide.json \
  --normal "$here/testdata/admission_review.json" --normal-expect '"patchType":"JSONPatch"' \
  --hostile 200 --seconds 40 --rss-limit-mib 128 --report report.json ||
  { tail -20 webhook.log; mc_fail "abuse"; }

kill -0 $pid || mc_fail "webhook died"
curl -sS --cacert cert.pem "https://127.0.0.1:$port/metrics" > metrics.txt
for reason in timeout bad_request; do
  grep -Eq "^modelcar_http_rejected_total\{reason=\"$reason\"\} [1-9]" metrics.txt ||
    { grep modelcar_http metrics.txt; mc_fail "metrics: $reason"; }
done
[ "$(curl -sS --cacert cert.pem "https://127.0.0.1:$port/healthz")" = ok ] || mc_fail "healthz after"
echo "PASS webhook_abuse_test"
