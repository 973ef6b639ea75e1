#!/usr/bin/env bash
# 16 concurrent streaming clients (openai SDK) all complete with their exact token counts; a
# client disconnecting mid-stream frees its running slot and KV blocks (seen in /metrics).
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model
serve_start "$MODEL_DIR" --max-model-len 32768 --served-model-name tiny --max-num-seqs 16 \
  --max-num-batched-tokens 256
serve_node "$MODELCAR_SRC/tests/serve/load.cjs" "$SERVE_URL" tiny

# A non-streaming client that gives up: the server notices on its next heartbeat write (one
# space of JSON whitespace a second) and frees the sequence.
metric() { curl -s "$SERVE_URL/metrics" | grep "^$1" | awk '{print $2}'; }
aborts=$(metric 'vllm:request_success_total{model_name="tiny",finished_reason="abort"}')
curl -s -o /dev/null --max-time 2 "$SERVE_URL/v1/completions" -H 'Content-Type: application/json' \
  -d '{"prompt":"hi","max_tokens":30000,"ignore_eos":true,"temperature":0}' || true
for i in $(seq 1 100); do
  [ "$(metric 'vllm:num_requests_running{model_name="tiny"}')" = 0 ] &&
    [ "$(metric 'vllm:request_success_total{model_name="tiny",finished_reason="abort"}')" = $((aborts + 1)) ] && break
  sleep 0.1
done
[ "$(metric 'vllm:num_requests_running{model_name="tiny"}')" = 0 ] || mc_fail "non-stream disconnect: still running"
[ "$(metric 'vllm:kv_cache_usage_perc{model_name="tiny"}')" = 0 ] || mc_fail "non-stream disconnect: KV not freed"
echo "serve_load_test: ok"
