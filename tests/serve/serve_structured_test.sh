#!/usr/bin/env bash
# Structured outputs (response_format json_schema / json_object, structured_outputs json / regex /
# choice / grammar) on the tiny synthetic model: every output parses and validates against its
# schema with ajv (structured.cjs, official openai SDK), unsupported keywords are named in 400s.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model
serve_start "$MODEL_DIR" --served-model-name tiny
serve_node "$MODELCAR_SRC/tests/serve/structured.cjs" "$SERVE_URL" tiny
echo "serve_structured_test: ok"
