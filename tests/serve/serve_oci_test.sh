#!/usr/bin/env bash
# `modelcar serve oci://REGISTRY/REPO@sha256:...`: the image is pulled into the node store,
# mounted, and served; system_fingerprint carries the manifest digest; a second start with
# --pull never serves from the warm store without the registry; the lease link goes at exit.
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model
mc_start_registry
"$MODELCAR_BIN" build "$MODEL_DIR" --layout "$MC_TMP/layout:v1" >/dev/null 2>&1
ref=$("$MODELCAR_BIN" push "$REGISTRY/models/tinyqwen:v1" --layout "$MC_TMP/layout:v1" 2>/dev/null | tail -1)
[[ $ref == *@sha256:* ]] || mc_fail "push printed no pinned ref: $ref"
digest=${ref##*@sha256:}

serve_start "oci://$ref" --store "$MC_TMP/store"
body=$(curl -sf "$SERVE_URL/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model":"tinyqwen","messages":[{"role":"user","content":"hi"}],"max_tokens":3}')
fp=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["system_fingerprint"])' "$body")
[[ $fp == *-${digest:0:12} ]] || mc_fail "fingerprint $fp does not end with ${digest:0:12}"
kill "$SERVE_PID"; wait "$SERVE_PID" || mc_fail "serve did not exit 0 on SIGTERM"

# Warm store, registry gone: --pull never still serves.
kill "$REGISTRY_PID"; wait "$REGISTRY_PID" 2>/dev/null || true
serve_start "oci://$ref" --store "$MC_TMP/store" --pull never
curl -sf "$SERVE_URL/v1/models" | mc_contains '"tinyqwen"' || mc_fail "models from the warm store"
grep -q "ready in" "$SERVE_LOG" || mc_fail "no ready line"
echo "serve_oci_test: ok"
