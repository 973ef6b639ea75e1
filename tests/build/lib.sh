# Helpers for the build tests (source after tests/lib/common.sh).
#   mc_make_model DIR   a small model directory: config.json, tokenizer files, a nested dir, a
#                       long and a non-ASCII name, and two "large" random files (over 1 MiB)
#   mc_manifest_digest LAYOUT:TAG   sha256 of the manifest bytes skopeo reads
MC=${MODELCAR_BIN:?MODELCAR_BIN must point at the modelcar binary}

mc_make_model() {
  local d=$1
  mkdir -p "$d/sub/deeper" "$d/empty"
  cat > "$d/config.json" <<'JSON'
{"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","torch_dtype":"bfloat16","hidden_size":64}
JSON
  echo '{"model_max_length": 32768}' > "$d/tokenizer_config.json"
  printf 'merges\n' > "$d/merges.txt"
  head -c 3145728 /dev/urandom > "$d/model.safetensors"
  head -c 1572864 /dev/urandom > "$d/sub/adapter.safetensors"
  echo nested > "$d/sub/deeper/notes.txt"
  echo long > "$d/sub/$(printf 'n%.0s' $(seq 1 120)).txt"
  echo utf8 > "$d/sub/modèle-été.txt"
}

mc_manifest_digest() {
  echo "sha256:$(skopeo inspect --raw "oci:$1" | sha256sum | cut -d' ' -f1)"
}
