#!/usr/bin/env bash
# Process-level behaviour of `modelcar serve`: it opens no socket other than its listener (and
# the connections accepted on it), hub ids are refused offline, --api-key is enforced,
# overload answers 503, --idle-timeout exits 0, and the HTTP limit flags are validated and take
# effect (body size, header count, open connections).
source "$MODELCAR_SRC/tests/lib/common.sh"
source "$MODELCAR_SRC/tests/serve/lib.sh"
mc_tmpdir
serve_tiny_model

# 1. A hub id is refused with an offline message, before any network use.
mc_expect_fail "$MODELCAR_BIN" serve Qwen/Qwen2.5-0.5B-Instruct --port 0
grep -q "offline" <<<"$MC_ERR" || mc_fail "hub id message: $MC_ERR"
mc_expect_fail "$MODELCAR_BIN" serve "$MC_TMP/missing" --port 0 --wait-for-model 0
grep -q "does not exist" <<<"$MC_ERR" || mc_fail "missing directory message: $MC_ERR"

# 2. Sockets: after serving requests, every socket of the process is the listener or a
#    connection accepted on its port; no UDP (DNS) and no outgoing TCP.
serve_start "$MODEL_DIR" --api-key sekret --max-num-seqs 1 --max-queue 1 --idle-timeout 4
port=${SERVE_URL##*:}
code=$(curl -s -o /dev/null -w '%{http_code}' "$SERVE_URL/v1/models")
[ "$code" = 401 ] || mc_fail "no key: expected 401, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$SERVE_URL/v1/models")
[ "$code" = 401 ] || mc_fail "wrong key: expected 401, got $code"
curl -sf -H 'Authorization: Bearer sekret' "$SERVE_URL/v1/models" | mc_contains -F "\"id\":\"$MODEL_DIR\"" ||
  mc_fail "models with the key (default name = MODEL as given, like vLLM)"
curl -sf -o /dev/null "$SERVE_URL/health" || mc_fail "/health needs no key"

# Overload: one running sequence and one waiting request at most; a burst gets 503s.
for i in $(seq 1 6); do
  curl -s -o "$MC_TMP/burst.$i" -w '%{http_code}\n' -H 'Authorization: Bearer sekret' \
    -H 'Content-Type: application/json' "$SERVE_URL/v1/completions" \
    -d '{"prompt":"hi","max_tokens":100,"ignore_eos":true,"temperature":0}' >"$MC_TMP/burst.$i.code" &
done
for i in $(seq 1 6); do
  while [ ! -s "$MC_TMP/burst.$i.code" ]; do sleep 0.1; done
done
sleep 0.5
n503=$(cat "$MC_TMP"/burst.*.code | grep -c '^503$' || true)
n200=$(cat "$MC_TMP"/burst.*.code | grep -c '^200$' || true)
[ "$n503" -ge 1 ] || mc_fail "expected some 503 under overload, got: $(cat "$MC_TMP"/burst.*.code | tr '\n' ' ')"
[ "$n200" -ge 1 ] || mc_fail "expected some 200 under overload"
grep -l '"ServiceUnavailableError"' "$MC_TMP"/burst.? >/dev/null || mc_fail "503 body is an OpenAI error"

/usr/bin/python3 - "$SERVE_PID" "$port" <<'PY'
import os, sys
pid, port = sys.argv[1], int(sys.argv[2])
inodes = set()
for fd in os.listdir(f'/proc/{pid}/fd'):
    try:
        t = os.readlink(f'/proc/{pid}/fd/{fd}')
    except OSError:
        continue
    if t.startswith('socket:['):
        inodes.add(t[8:-1])
assert inodes, 'the server has its listener'
found = {}
for proto in ('tcp', 'tcp6', 'udp', 'udp6', 'raw', 'raw6'):
    try:
        lines = open(f'/proc/{pid}/net/{proto}').read().splitlines()[1:]
    except FileNotFoundError:
        continue
    for line in lines:
        f = line.split()
        if f[9] in inodes:
            found[f[9]] = (proto, f[1], f[2], f[3])
unix = set(l.split()[6] for l in open(f'/proc/{pid}/net/unix').read().splitlines()[1:] if len(l.split()) > 6)
listeners = 0
for inode in inodes:
    if inode in found:
        proto, local, remote, state = found[inode]
        assert proto in ('tcp', 'tcp6'), f'non-TCP socket {found[inode]}'
        lport = int(local.split(':')[1], 16)
        assert lport == port, f'socket not on the listener port: {found[inode]}'
        listeners += state == '0A'
    else:
        assert inode not in unix or True  # unix sockets (none expected) never reach the network
        raise AssertionError(f'socket {inode} is not TCP on port {port}')
assert listeners == 1, f'{listeners} listening sockets'
print(f'sockets ok: {len(inodes)} socket(s), 1 listener on {port}')
PY

# 3. Idle timeout: with no request for 4 s the process exits 0.
for i in $(seq 1 150); do
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$SERVE_PID" 2>/dev/null && mc_fail "serve still running after the idle timeout"
wait "$SERVE_PID" && rc=0 || rc=$?
[ "$rc" = 0 ] || mc_fail "idle exit code $rc (want 0)"
grep -q "idle timeout" "$SERVE_LOG" || mc_fail "idle exit not logged"
# 4. HTTP limit flags: a bad value is an error naming the flag (exit 2, before anything starts);
#    given ones take effect.
for bad in "--max-connections 0" "--max-body-bytes 1" "--header-timeout ten" "--write-timeout -1"; do
  mc_expect_fail "$MODELCAR_BIN" serve "$MODEL_DIR" --port 0 $bad
  grep -qF -- "${bad%% *}" <<<"$MC_ERR" || mc_fail "$bad: the error does not name the flag: $MC_ERR"
done
serve_start "$MODEL_DIR" --max-body-bytes 64K --h11-max-header-count 20 --max-connections 4
head -c 100000 /dev/zero | tr '\0' x > "$MC_TMP/big.txt"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$MC_TMP/big.txt" "$SERVE_URL/v1/completions")
[ "$code" = 413 ] || mc_fail "100 KB body with --max-body-bytes 64K: $code, want 413"
hdrs=(); for i in $(seq 1 25); do hdrs+=(-H "X-Extra-$i: v"); done
code=$(curl -s -o /dev/null -w '%{http_code}' "${hdrs[@]}" "$SERVE_URL/health")
[ "$code" = 431 ] || mc_fail "25 extra headers with --h11-max-header-count 20: $code, want 431"
/usr/bin/python3 - "${SERVE_URL##*:}" <<'PY' || mc_fail "--max-connections 4"
import socket, sys
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
extra = socket.create_connection(("127.0.0.1", port))
extra.settimeout(10)
answer = extra.recv(4096)
assert answer.startswith(b"HTTP/1.1 503"), answer[:80]
print("the 5th connection with --max-connections 4:", answer.split(b"\r\n")[0].decode())
PY
echo "serve_process_test: ok"
