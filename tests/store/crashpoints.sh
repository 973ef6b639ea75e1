#!/usr/bin/env bash
# kill -9 at every crash point of build, push, pull, store, mount, gc and verify (crashpoints.py),
# against the real registry behind fault_proxy.py in pass-through mode (it logs each request's
# body bytes, so the test can tell which bytes were fetched again).
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/registry/lib.sh"
mc_tmpdir
mc_start_registry
start_proxy random 1 0
export REGISTRY PROXY PROXY_LOG WORK=$MC_TMP/work
mkdir -p "$WORK"
/usr/bin/python3 "$MODELCAR_SRC/tests/store/crashpoints.py"
