#!/usr/bin/env bash
# A tiny Llama-3-shaped model (the Llama 3.1 tokenizer and chat template) served as vLLM serves
# it (llama.cjs, official openai SDK): --tool-call-parser llama3_json parses JSON tool calls out
# of the output as vLLM's Llama3JsonToolParser does, streamed and not; add_special_tokens puts
# the tokenizer's <|begin_of_text|> before text prompts; an unknown parser name fails at start-up.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
model=$MC_TMP/llama
"$MODELCAR_BIN" testmodel --shape llama3-tiny --out "$model" >/dev/null
mc_expect_fail "$MODELCAR_BIN" serve "$model" --port 0 --enable-auto-tool-choice \
  --tool-call-parser pythonic
grep -q "pythonic" <<<"$MC_ERR" || mc_fail "unknown parser not named: $MC_ERR"
serve_start "$model" --served-model-name llama --enable-auto-tool-choice \
  --tool-call-parser llama3_json
serve_node "$MODELCAR_SRC/tests/serve/llama.cjs" "$SERVE_URL" llama
echo "serve_llama_test: ok"
