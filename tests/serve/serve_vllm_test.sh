#!/usr/bin/env bash
# `modelcar serve` as a drop-in for `vllm serve`: vLLM's command line (flags with - or _, short
# forms, ignored flags warned once each, refused and unknown flags failing with their name, the
# default model id), generation defaults from generation_config.json (auto, vllm, override), the
# request fields vLLM accepts, and its routes and headers (vllm_compat.cjs, official openai SDK).
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model

# 1. Command-line errors name the flag.
mc_expect_fail "$MODELCAR_BIN" serve "$MODEL_DIR" --no-such-flag 3
grep -q -- "--no-such-flag" <<<"$MC_ERR" || mc_fail "unknown flag not named: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" serve "$MODEL_DIR" --quantization awq
grep -q -- "quantization awq was asked for" <<<"$MC_ERR" || mc_fail "awq on bf16: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" serve "$MODEL_DIR" --quantization fp8
grep -q -- 'quantization "fp8" is not supported' <<<"$MC_ERR" || mc_fail "refused value: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" serve "$MODEL_DIR" --enable-auto-tool-choice
grep -q -- "requires --tool-call-parser" <<<"$MC_ERR" || mc_fail "tool flags: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" serve "$MODEL_DIR" --enable-auto-tool-choice --tool-call-parser mistral
grep -q -- "--tool-call-parser mistral is not supported" <<<"$MC_ERR" || mc_fail "parser: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" serve "$MODEL_DIR" --max_model_len 1.5K
grep -q -- "--max-model-len" <<<"$MC_ERR" || mc_fail "bad --max-model-len: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" serve "$MODEL_DIR" --generation-config "$MC_TMP/nowhere"
grep -q -- "--generation-config" <<<"$MC_ERR" || mc_fail "bad --generation-config: $MC_ERR"

# 2. A vLLM ServingRuntime's argument list, unchanged.
serve_start - "--model=$MODEL_DIR" --max_model_len 1k -tp 2 --gpu-memory-utilization 0.9 \
  --dtype auto --trust-remote-code --enforce-eager --no-enable-chunked-prefill --enable-prefix-caching \
  --enable-server-load-tracking --root-path /proxy --enable-request-id-headers \
  --enable-prompt-tokens-details --disable-log-requests --uvicorn-log-level info
for flag in --tensor-parallel-size --gpu-memory-utilization --dtype --trust-remote-code \
  --enforce-eager --enable-chunked-prefill; do
  n=$(grep -c -- "warning: $flag" "$SERVE_LOG" || true)
  [ "$n" = 1 ] || mc_fail "$flag: $n warning lines (want 1)"
done
# --enable-prefix-caching is implemented (and the default): no warning.
! grep -q -- "--enable-prefix-caching" "$SERVE_LOG" || mc_fail "--enable-prefix-caching warned"
curl -sf "$SERVE_URL/v1/models" | /usr/bin/python3 -c '
import json, sys
card = json.load(sys.stdin)["data"][0]
assert card["id"] == sys.argv[1], card   # vLLM: the MODEL argument as given
assert card["max_model_len"] == 1000, card
' "$MODEL_DIR" || mc_fail "model id or --max-model-len 1k"
serve_node "$MODELCAR_SRC/tests/serve/vllm_compat.cjs" "$SERVE_URL" "$MODEL_DIR" "$SERVE_LOG"
kill "$SERVE_PID"; wait "$SERVE_PID" || true

# 3. --generation-config vllm: no defaults; --override-generation-config on top.
chat() { curl -sf "$SERVE_URL/v1/chat/completions" -H 'Content-Type: application/json' -d "$1" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])'; }
serve_start "$MODEL_DIR" --generation-config vllm
grep -q "Using default chat sampling params" "$SERVE_LOG" && mc_fail "vllm mode logged defaults"
q='"messages":[{"role":"user","content":"hi"}],"max_tokens":10,"ignore_eos":true,"seed":5'
[ "$(chat "{$q}")" = "$(chat "{$q,\"temperature\":1,\"top_p\":1,\"top_k\":0}")" ] ||
  mc_fail "vllm mode: a request without sampling fields uses the neutral values"
kill "$SERVE_PID"; wait "$SERVE_PID" || true
serve_start "$MODEL_DIR" --override-generation-config '{"temperature": 0}' \
  --response-role bot --allowed-origins '["https://ok.example"]' \
  --chat-template '{% for m in messages %}{{ m.content }}|{% endfor %}' \
  --default-chat-template-kwargs '{"enable_thinking": false}'
grep -q "Using default chat sampling params from model: {'repetition_penalty': 1.05, 'temperature': 0.0, 'top_k': 20, 'top_p': 0.8}" \
  "$SERVE_LOG" || mc_fail "override not logged"
[ "$(chat "{$q}")" = "$(chat "{$q,\"temperature\":0}")" ] || mc_fail "override temperature 0 = greedy"
role=$(curl -sf "$SERVE_URL/v1/chat/completions" -H 'Content-Type: application/json' -d "{$q}" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["role"])')
[ "$role" = bot ] || mc_fail "--response-role: $role"
want=$(curl -sf "$SERVE_URL/tokenize" -H 'Content-Type: application/json' -d '{"prompt":"a|b|"}')
got=$(curl -sf "$SERVE_URL/tokenize" -H 'Content-Type: application/json' \
  -d '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}')
[ "$want" = "$got" ] || mc_fail "--chat-template inline: $got vs $want"
code=$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$SERVE_URL/v1/models" \
  -H 'Origin: https://evil.example' -H 'Access-Control-Request-Method: GET')
[ "$code" = 400 ] || mc_fail "CORS preflight from a disallowed origin: $code"
hdr=$(curl -s -D - -o /dev/null "$SERVE_URL/v1/models" -H 'Origin: https://ok.example' | tr -d '\r')
grep -qi '^access-control-allow-origin: https://ok.example$' <<<"$hdr" || mc_fail "CORS origin: $hdr"
echo "serve_vllm_test: ok"
