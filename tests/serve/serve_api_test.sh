#!/usr/bin/env bash
# `modelcar serve` on the tiny synthetic model, driven by the official openai SDK: models, chat
# (non-stream, stream with usage, n, logprobs, seed), completions (echo, logprobs, token and
# batched prompts, stream), echo + logprobs over the prompt and prompt_logprobs, stop strings,
# tools in the prompt, tool calls parsed from the output (--tool-call-parser hermes), tool_choice "required" (one or several calls) and named (forced calls, streamed too), error
# shapes and statuses
# (404, 400 context overflow with vLLM's wording, malformed JSON, 413), /tokenize, /detokenize,
# /version, /health, /metrics; and the raw SSE framing with curl.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model
serve_start "$MODEL_DIR" --max-model-len 512 --served-model-name tiny-qwen \
  --enable-auto-tool-choice --tool-call-parser hermes
grep -q "ready in" "$SERVE_LOG" || mc_fail "no start-to-ready line in the log"

serve_node "$MODELCAR_SRC/tests/serve/openai_sdk.cjs" "$SERVE_URL" tiny-qwen 512

# Raw SSE framing: every event is "data: <json>\n\n", the last one "data: [DONE]\n\n".
# A client accepting gzip (as node's fetch does) must still get plain, unbuffered SSE.
curl -sN "$SERVE_URL/v1/chat/completions" -H 'Content-Type: application/json' -H 'Accept-Encoding: gzip, deflate, br' \
  -d '{"model":"tiny-qwen","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true,"ignore_eos":true}' \
  -D "$MC_TMP/sse.headers" -o "$MC_TMP/sse.body"
grep -qi '^content-type: text/event-stream.$' "$MC_TMP/sse.headers" || mc_fail "SSE content type"
grep -qi '^content-encoding' "$MC_TMP/sse.headers" && mc_fail "SSE must not be compressed"
/usr/bin/python3 - "$MC_TMP/sse.body" <<'PY'
import json, sys
raw = open(sys.argv[1], 'rb').read().decode()
assert raw.endswith('data: [DONE]\n\n'), repr(raw[-40:])
events = raw.split('\n\n')
assert events[-1] == '', 'body ends with a blank line'
events = events[:-1]
for e in events:
    assert e.startswith('data: ') and '\n' not in e, repr(e)
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert chunks[0]['choices'][0]['delta']['role'] == 'assistant'
assert chunks[-1]['choices'][0]['finish_reason'] == 'length'
assert all(c['object'] == 'chat.completion.chunk' for c in chunks)
assert len({c['id'] for c in chunks}) == 1
PY
echo "serve_api_test: ok"
