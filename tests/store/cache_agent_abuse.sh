#!/usr/bin/env bash
# `modelcar cache-agent --listen` (a DaemonSet's node-local server, default settings) under 100
# concurrent hostile connections for 20 s (tests/lib/abuse.py: idle and request-line-only
# connections, slowloris headers, 40 MB header floods) while /healthz answers every 0.2 s in under
# 1 s and /status keeps answering; RSS stays under 64 MiB. No route takes a body: one is 413.
# /metrics counts the refusals; SIGTERM still stops it with exit 0.
source "$MODELCAR_SRC/tests/lib/common.sh"
mc_tmpdir
cd "$MC_TMP"
printf '# no refs: the server alone is under test\n' > refs.txt
port=$(mc_free_port)
"$MODELCAR_BIN" cache-agent --config refs.txt --store store --listen "127.0.0.1:$port" \
  --interval 1 2> agent.log &
apid=$!
MC_CLEANUP+=("kill $apid 2>/dev/null")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 0.1; done
[ "$(curl -sf "http://127.0.0.1:$port/healthz")" = ok ] || { cat agent.log; mc_fail "healthz"; }

head -c 1000000 /dev/zero > body.bin
got=$(curl -sS -o /dev/null -w '%{http_code}' -X GET --data-binary @body.bin \
  "http://127.0.0.1:$port/status") || got="curl failed"
[ "$got" = 413 ] || mc_fail "a body to /status: $got, want 413"

/usr/bin/python3 "$MODELCAR_SRC/tests/lib/abuse.py" run --url "http://127.0.0.1:$port" \
  --pid "$apid" --health /healthz --normal-get /status --normal-expect '"reconciles"' \
  --kinds idle,line_only,slow_headers,header_flood --hostile 100 --seconds 20 \
  --rss-limit-mib 64 --report report.json || { tail -20 agent.log; mc_fail "abuse"; }

curl -sS "http://127.0.0.1:$port/metrics" > metrics.txt
for reason in timeout bad_request; do
  grep -Eq "^modelcar_http_rejected_total\{reason=\"$reason\"\} [1-9]" metrics.txt ||
    { grep modelcar_http metrics.txt; mc_fail "metrics: $reason"; }
done
kill -TERM $apid
wait $apid || mc_fail "cache-agent did not exit 0 on SIGTERM"
echo "PASS cache_agent_abuse"
