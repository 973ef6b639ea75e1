#!/usr/bin/env bash
# Automatic prefix caching (on by default, as in vLLM) against --no-enable-prefix-caching on the
# same model: cached_tokens on the second turn of a chat, the same text and logprobs either way,
# batched or not, streamed or not; the prefix cache metrics (prefix_cache.cjs, official openai SDK).
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
serve_tiny_model
# Small prefill chunks: prompts after a cached prefix are still fed in several steps.
common=(--served-model-name tiny --enable-prompt-tokens-details --max-num-batched-tokens 48)
serve_start "$MODEL_DIR" "${common[@]}"
on_url=$SERVE_URL
serve_start "$MODEL_DIR" "${common[@]}" --no-enable-prefix-caching
off_url=$SERVE_URL
serve_node "$MODELCAR_SRC/tests/serve/prefix_cache.cjs" "$on_url" "$off_url" tiny
echo "serve_prefix_test: ok"
