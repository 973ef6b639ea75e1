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
echo "serve_load_test: ok"
