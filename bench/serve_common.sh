# Sourced by the bench/*.sh scripts that start servers. Needs $work (a temp dir, server logs go
# there). The caller's EXIT trap calls bench_stop_servers.
#   bench_free_port                 prints a free TCP port on 127.0.0.1
#   bench_start NAME PORT CMD...    runs CMD in the background (log $work/NAME.log), waits until
#                                   http://127.0.0.1:PORT/health answers and sets bench_url to
#                                   that base URL; fails with the log's tail if CMD exits first or
#                                   never answers. Call it directly, not in $(...): the servers'
#                                   pids must stay in this shell for bench_stop_servers
#   bench_stop_servers              stops every server bench_start started
bench_pids=()
bench_url=

bench_free_port() {  # reserved for this shell (tests/lib/free_port.py)
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../tests/lib/free_port.py" "$$"
}

bench_start() {
  local name=$1 port=$2
  shift 2
  "$@" > "$work/$name.log" 2>&1 &
  local pid=$!
  bench_pids+=("$pid")
  local url="http://127.0.0.1:$port"
  for _ in $(seq 600); do
    curl -sf "$url/health" >/dev/null 2>&1 && { bench_url=$url; return 0; }
    kill -0 "$pid" 2>/dev/null || { echo "$name exited:" >&2; tail -20 "$work/$name.log" >&2; return 1; }
    sleep 0.2
  done
  echo "$name did not answer /health" >&2
  return 1
}

bench_stop_servers() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  bench_pids=()
  return 0
}
