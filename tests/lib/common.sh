# Shared helpers for integration tests and scripts (source this file; bash).
#   mc_tmpdir               a temp dir removed at exit (MC_TMP)
#   mc_free_port            prints a free TCP port on 127.0.0.1, reserved for this test until it
#                           exits (tests/lib/free_port.py: below the ephemeral range)
#   mc_start_registry [AUTH_YAML]  starts Debian's docker-registry on 127.0.0.1:<free port>,
#                           sets REGISTRY (host:port), REGISTRY_DIR and REGISTRY_PID, waits until
#                           /v2/ answers; stopped at exit. AUTH_YAML is inserted under the top
#                           level (e.g. an "auth:" block), and MC_REGISTRY_TLS_CERT/KEY turn on TLS;
#                           MC_REGISTRY_ACCESSLOG=1 writes one line per request to $REGISTRY_DIR/log.
#   mc_restart_registry     starts that registry again (same config, port, storage) after a stop
#   mc_fail MSG             prints MSG and exits 1
#   mc_expect_fail CMD...   runs CMD, fails the test if it exits 0; its stderr is in MC_ERR
#   mc_flip_byte FILE OFFSET  inverts the byte at OFFSET in place: a damage that always changes
#                           the file (writing a fixed byte into random data is a no-op 1 time in 256)
#   mc_contains [GREP_OPTS...] PATTERN  grep -q on stdin that reads stdin to its end: with pipefail,
#                           `cmd | grep -q` fails when grep exits at the first match while cmd still
#                           writes (SIGPIPE; ctr and openssl write their output in many pieces)
set -euo pipefail

# The modelcar under test must not be older than the product sources (src/ without its tests,
# test helpers (*test_util.h, *_fixture.h) and fuzz targets): a tree merged or edited after the
# last build tests old code against new tests (it happened: a TSan binary built before a feature
# failed that feature's new test, which looked like a flake). CTest does not build; scripts/build does.
if [ -n "${MODELCAR_BIN:-}" ] && [ -n "${MODELCAR_SRC:-}" ] && [ -e "$MODELCAR_BIN" ]; then
  mc_newer=$(find "$MODELCAR_SRC/src" \( -name '*.cc' -o -name '*.h' \) ! -name '*_test.cc' \
    ! -name '*_fuzz.cc' ! -name '*test_util.h' ! -name '*_fixture.h' -newer "$MODELCAR_BIN" \
    -print -quit)
  if [ -n "$mc_newer" ]; then
    echo "FAIL: $MODELCAR_BIN is older than $mc_newer: build it first (scripts/build)" >&2
    exit 1
  fi
fi

MC_CLEANUP=()
mc_cleanup() {
  local i
  for ((i = ${#MC_CLEANUP[@]} - 1; i >= 0; i--)); do eval "${MC_CLEANUP[$i]}" || true; done
}
trap mc_cleanup EXIT

mc_fail() { echo "FAIL: $*" >&2; exit 1; }

mc_contains() {
  local rc=0
  grep -q "$@" || rc=$?
  cat > /dev/null
  return $rc
}

mc_tmpdir() {
  MC_TMP=$(mktemp -d /tmp/modelcar-test-XXXXXX)
  MC_CLEANUP+=("rm -rf '$MC_TMP'")
}

mc_free_port() {
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/free_port.py" "$$"
}

mc_start_registry() {
  local auth=${1:-}
  [ -n "${MC_TMP:-}" ] || mc_tmpdir
  local port; port=$(mc_free_port)
  REGISTRY_DIR=$(mktemp -d "$MC_TMP/registry-XXXX")
  local tls=""
  if [ -n "${MC_REGISTRY_TLS_CERT:-}" ]; then
    tls="  tls: {certificate: $MC_REGISTRY_TLS_CERT, key: $MC_REGISTRY_TLS_KEY}"
  fi
  cat > "$REGISTRY_DIR/config.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: $([ "${MC_REGISTRY_ACCESSLOG:-0}" = 1 ] && echo false || echo true)}}
storage:
  cache: {blobdescriptor: inmemory}
  filesystem: {rootdirectory: $REGISTRY_DIR/data}
  delete: {enabled: true}
  maintenance: {uploadpurging: {enabled: false}}
http:
  addr: 127.0.0.1:$port
  secret: modelcar-test-secret
$tls
$auth
YAML
  REGISTRY=127.0.0.1:$port
  mc_restart_registry
}

# mc_restart_registry: (re)starts the registry of mc_start_registry with its config, port and
# storage (e.g. after a test stopped it); sets REGISTRY_PID, waits until /v2/ answers.
mc_restart_registry() {
  local scheme=http
  grep -q '^  tls:' "$REGISTRY_DIR/config.yml" && scheme=https
  /usr/bin/docker-registry serve "$REGISTRY_DIR/config.yml" >> "$REGISTRY_DIR/log" 2>&1 &
  REGISTRY_PID=$!
  MC_CLEANUP+=("kill $REGISTRY_PID 2>/dev/null; wait $REGISTRY_PID 2>/dev/null")
  local i
  for i in $(seq 1 100); do
    if curl -sk -o /dev/null "$scheme://$REGISTRY/v2/"; then return 0; fi
    kill -0 "$REGISTRY_PID" 2>/dev/null || { cat "$REGISTRY_DIR/log" >&2; mc_fail "registry died"; }
    sleep 0.1
  done
  cat "$REGISTRY_DIR/log" >&2
  mc_fail "registry did not start on $REGISTRY"
}

mc_expect_fail() {
  local errf; errf=$(mktemp)
  if "$@" 2>"$errf" >/dev/null; then
    MC_ERR=$(cat "$errf"); rm -f "$errf"
    mc_fail "expected failure: $*"
  fi
  MC_ERR=$(cat "$errf"); rm -f "$errf"
}

mc_flip_byte() {
  local v
  v=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  [ -n "$v" ] || mc_fail "mc_flip_byte: $1 has no byte at $2"
  # shellcheck disable=SC2059  # the format is the octal escape of the inverted byte
  printf "\\$(printf '%03o' $((255 - v)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
