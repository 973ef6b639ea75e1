#!/usr/bin/env bash
# --reasoning-parser qwen3 on a tiny Qwen3-style model (Qwen3's template and <think> tokens):
# reasoning / content split as vLLM names them, streamed and not, include_reasoning,
# chat_template_kwargs over --default-chat-template-kwargs, structured outputs after the thought
# (reasoning.cjs, official openai SDK); an unknown parser name fails at start-up.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
model=$MC_TMP/qwen3
"$MODELCAR_BIN" testmodel --shape tiny --tokenizer-style qwen3 --out "$model" >/dev/null
mc_expect_fail "$MODELCAR_BIN" serve "$model" --port 0 --reasoning-parser granite
grep -q "granite" <<<"$MC_ERR" || mc_fail "unknown parser not named: $MC_ERR"
serve_start "$model" --served-model-name q3 --reasoning-parser qwen3 \
  --default-chat-template-kwargs '{"enable_thinking": false}'
serve_node "$MODELCAR_SRC/tests/serve/reasoning.cjs" "$SERVE_URL" q3
echo "serve_reasoning_test: ok"
