#!/usr/bin/env bash
# Builds llama.cpp (llama-bench, llama-server) once from the source bundled in the npm package
# node-llama-cpp (a git bundle: no network beyond npm) into a cache folder outside the repo, and
# prints the folder holding the binaries. Concurrent callers wait for one build (flock).
#   bench/llama_cpp.sh            $LLAMA_CPP_DIR, default ~/.cache/modelcar/llama.cpp
# Its gguf-py (for bench/gguf_from_safetensors.py) is at $LLAMA_CPP_DIR/src/gguf-py.
set -euo pipefail
llama=${LLAMA_CPP_DIR:-$HOME/.cache/modelcar/llama.cpp}
mkdir -p "$llama"
exec 9>"$llama/.lock"
flock 9
bin=$llama/src/build/bin
if [ ! -x "$bin/llama-bench" ] || [ ! -x "$bin/llama-server" ] || [ ! -x "$bin/llama-quantize" ]; then
  echo "building llama.cpp in $llama (once; ~5-15 min on 2 cores)" >&2
  if [ ! -f "$llama/src/CMakeLists.txt" ]; then
    (cd "$llama" && rm -rf package node-llama-cpp-*.tgz src &&
      npm pack --silent node-llama-cpp >/dev/null && tar xzf node-llama-cpp-*.tgz &&
      git clone -q package/llama/gitRelease.bundle src 2>/dev/null)
  fi
  [ -f "$llama/src/build/build.ninja" ] ||
    cmake -S "$llama/src" -B "$llama/src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DLLAMA_CURL=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DBUILD_SHARED_LIBS=OFF >&2
  nice ninja -C "$llama/src/build" llama-bench llama-server llama-quantize >&2
fi
echo "$bin"
