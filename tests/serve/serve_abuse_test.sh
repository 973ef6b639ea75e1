#!/usr/bin/env bash
# `modelcar serve` with its default settings under 200 concurrent hostile connections for 40 s
# (tests/lib/abuse.py: idle and request-line-only connections, slowloris headers, slow bodies,
# 40 MB header floods, JSON nested 100,000 deep, streams reset mid-answer) while /health answers
# every 0.2 s in under 1 s and chat completions keep completing; RSS stays within 256 MiB of the
# loaded server's. Then the bounded queue: 330 concurrent streaming requests against 64 running +
# 256 waiting get at least 10 immediate 503s (vLLM's error JSON), and the server serves afterwards.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model
serve_start "$MODEL_DIR" --served-model-name tiny
cd "$MC_TMP"

/usr/bin/python3 - <<'PY'
import json
d = 100000
deep = '{"model":"tiny","messages":[{"role":"user","content":"hi","x":' + "[" * d + "]" * d + "}]}"
open("deep.json", "w").write(deep)
msgs = [{"role": "user", "content": "hi"}]
json.dump({"model": "tiny", "messages": msgs, "max_tokens": 8}, open("normal.json", "w"))
json.dump({"model": "tiny", "messages": msgs, "max_tokens": 200, "stream": True,
           "ignore_eos": True}, open("stream.json", "w"))
json.dump({"model": "tiny", "messages": msgs, "max_tokens": 100, "stream": True,
           "ignore_eos": True}, open("flood.json", "w"))
PY

rss0=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$SERVE_PID/status")
echo "serve_abuse_test: RSS after loading $rss0 MiB"
/usr/bin/python3 "$MODELCAR_SRC/tests/lib/abuse.py" run --url "$SERVE_URL" --pid "$SERVE_PID" \
  --health /health --post /v1/chat/completions --deep deep.json --stream stream.json \
  --normal normal.json --normal-expect '"chat.completion"' --hostile 200 --seconds 40 \
  --rss-limit-mib $((rss0 + 256)) --report report.json || { tail -20 "$SERVE_LOG"; mc_fail "abuse"; }

/usr/bin/python3 "$MODELCAR_SRC/tests/lib/abuse.py" flood --url "$SERVE_URL" \
  --post /v1/chat/completions --body flood.json --count 330 --min-503 10 \
  --expect-503 '"code":503' || mc_fail "the bounded queue did not answer 503"

# Still serving: health and a chat, once the flood's requests are gone.
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SERVE_URL/health")" = 200 ] ||
  mc_fail "health after the flood"
out=$(curl -sS --max-time 300 "$SERVE_URL/v1/chat/completions" -H 'Content-Type: application/json' \
  --data-binary @normal.json)
[[ $out == *'"chat.completion"'* ]] || mc_fail "chat after the flood: $out"
kill -0 "$SERVE_PID" || mc_fail "serve died"
echo "serve_abuse_test: ok"
