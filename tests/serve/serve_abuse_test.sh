#!/usr/bin/env bash
# `modelcar serve` with its default settings under 200 concurrent hostile connections for 40 s
# (tests/lib/abuse.py: idle and request-line-only connections, slowloris headers, slow bodies,
# 40 MB header floods, JSON nested 100,000 deep, wide JSON (3 MB of `{},` a body), streams reset
# mid-answer, streams read only after 10 s through a 4 KB window) while /health answers every
# 0.2 s in under 1 s and chat completions keep completing; /metrics counts the refusals. Before
# that, every JSON endpoint gets bodies nested 100,000 deep, with 1.5 million values, and of
# 9 MiB: 400, 400, 413. Then the bounded queue: 330 concurrent streaming requests against 64
# running + 256 waiting get at least 10 immediate 503s (vLLM's error JSON), and the server serves
# afterwards. The stated memory bound: the server's peak RSS over the whole test (VmHWM; sampled
# every 0.2 s during the hostile run too) stays under its RSS once loaded + 384 MiB: the request
# bodies held (64 MiB budget), two large-body parses (32 MiB estimated each, ~55 MiB resident),
# the streams and connections of the run (~120 MiB measured without wide bodies), and slack.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model
serve_start "$MODEL_DIR" --served-model-name tiny
cd "$MC_TMP"
rss_loaded=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$SERVE_PID/status")
rss_bound=$((rss_loaded + 384))
echo "serve_abuse_test: RSS loaded $rss_loaded MiB; bound $rss_bound MiB"

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
# 32 events of ~3 KB (20 top logprobs each): more than the socket buffers of a 4 KB window hold.
json.dump({"model": "tiny", "messages": msgs, "max_tokens": 32, "stream": True, "ignore_eos": True,
           "logprobs": True, "top_logprobs": 20}, open("slow_stream.json", "w"))
# Hostile bodies for every JSON endpoint: nested 100,000 deep, 1.5 million values (3 MB: inside
# the body limit, beyond the parse's value limit), and 9 MiB (beyond the 8 MiB body limit).
nest = "[" * d + "]" * d
wide = "[" + ",".join(["{}"] * 1500000) + "]"
# The hostile run's wide body: 1,000,000 values (inside the value limit) of ~100 bytes parsed
# each, past the parse's 32 MiB memory limit.
open("wide.json", "w").write('{"model":"tiny","messages":[{"role":"user","content":"hi"}],"x":['
                             + ",".join(["{}"] * 999990) + "]}")
for name, value in (("deep", nest), ("wide", wide), ("huge", '"' + "h" * (9 << 20) + '"')):
    for ep, body in (("chat", '{"model":"tiny","messages":[{"role":"user","content":"hi"}],"x":%s}'),
                     ("completions", '{"model":"tiny","prompt":%s}'),
                     ("tokenize", '{"model":"tiny","prompt":"hi","x":%s}'),
                     ("detokenize", '{"model":"tiny","tokens":%s}')):
        open(f"{name}-{ep}.json", "w").write(body % value)
PY

# Each JSON endpoint answers each hostile body with 400 (413 beyond the body limit), at once.
for ep in chat completions invocations tokenize detokenize; do
  case $ep in
    chat) path=/v1/chat/completions file=chat ;; completions) path=/v1/completions file=completions ;;
    invocations) path=/invocations file=chat ;; *) path=/$ep file=$ep ;;
  esac
  for kind in deep wide huge; do
    want=400; [ $kind = huge ] && want=413
    got=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 60 "$SERVE_URL$path" \
      -H 'Content-Type: application/json' --data-binary "@$kind-$file.json") || got="curl failed"
    [ "$got" = $want ] || mc_fail "$kind body to $path: $got, want $want"
  done
done
kill -0 "$SERVE_PID" || mc_fail "serve died on a hostile body"
echo "serve_abuse_test: deep, wide and huge bodies on 5 JSON endpoints: 400/413"

echo "serve_abuse_test: RSS now $(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$SERVE_PID/status") MiB, peak $(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$SERVE_PID/status") MiB"
/usr/bin/python3 "$MODELCAR_SRC/tests/lib/abuse.py" run --url "$SERVE_URL" --pid "$SERVE_PID" \
  --health /health --post /v1/chat/completions --deep deep.json --wide wide.json \
  --stream stream.json --slow-stream slow_stream.json \
  --normal normal.json --normal-expect '"chat.completion"' --hostile 200 --seconds 40 \
  --rss-limit-mib "$rss_bound" --report report.json || { tail -20 "$SERVE_LOG"; mc_fail "abuse"; }

# The refusals are counted in /metrics.
curl -sS "$SERVE_URL/metrics" > metrics.txt
for reason in timeout bad_request; do
  grep -Eq "^modelcar_http_rejected_total\{reason=\"$reason\"\} [1-9]" metrics.txt ||
    { grep modelcar_http metrics.txt; mc_fail "metrics: $reason"; }
done

/usr/bin/python3 "$MODELCAR_SRC/tests/lib/abuse.py" flood --url "$SERVE_URL" \
  --post /v1/chat/completions --body flood.json --count 330 --min-503 10 \
  --expect-503 '"code":503' || mc_fail "the bounded queue did not answer 503"

# Still serving: health and a chat, once the flood's requests are gone.
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SERVE_URL/health")" = 200 ] ||
  mc_fail "health after the flood"
# The flood's clients are gone but their requests stay queued until each one's session sees the
# closed connection (a heartbeat, about every second): a 503 until then, never longer than ~10 s.
for i in $(seq 20); do
  out=$(curl -sS --max-time 300 "$SERVE_URL/v1/chat/completions" -H 'Content-Type: application/json' \
    --data-binary @normal.json)
  [[ $out == *'"code":503'* ]] || break
  sleep 0.5
done
[[ $out == *'"chat.completion"'* ]] || mc_fail "chat after the flood: $out"
echo "serve_abuse_test: chat after the flood answered at try $i"
kill -0 "$SERVE_PID" || mc_fail "serve died"
peak=$(awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$SERVE_PID/status")
echo "serve_abuse_test: peak RSS over the whole test $peak MiB (bound $rss_bound MiB)"
[ "$peak" -le "$rss_bound" ] || mc_fail "peak RSS $peak MiB over the bound $rss_bound MiB"
echo "serve_abuse_test: ok"
