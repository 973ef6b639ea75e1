#!/usr/bin/env bash
# Admission latency of `modelcar webhook` at a fixed request rate on loopback, side by side with a
# peer: a minimal Python stdlib HTTPS server (ssl + http.server, ThreadingHTTPServer) that parses
# the same AdmissionReview and answers "allowed" without mutating (KServe's Go webhook cannot run
# here: it needs an API server). Both serve the same self-signed certificate and get the same
# review bodies (a real KServe predictor pod) from the same open-loop load generator: RATE
# requests/s over CONNS keep-alive TLS connections for SECONDS; latency is measured from each
# request's scheduled send time (no coordinated omission). The load generator is Python too, so
# absolute figures include its overhead; compare the ratio.
#   bench/webhook.sh [RATE=500] [SECONDS=20] [CONNS=8]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rate=${1:-500}
secs=${2:-20}
conns=${3:-8}
bin=${MODELCAR_BIN:-$("$here/scripts/build" release modelcar)/modelcar}
export MODELCAR_SRC=$here
source "$here/tests/lib/common.sh"
mc_tmpdir
cd "$MC_TMP"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=bench \
  -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem 2>/dev/null
review=$here/tests/kube/testdata/admission_review.json

cat > peer.py <<'PY'
import json, ssl, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        req = json.loads(body)["request"]
        out = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                          "response": {"uid": req["uid"], "allowed": True}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("cert.pem", "key.pem")
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY

cat > load.py <<'PY'
import http.client, json, ssl, sys, threading, time
port, rate, secs, conns, review = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
body = open(review, "rb").read()
total = int(rate * secs)
ctx = ssl.create_default_context(cafile="cert.pem")
lat, errors, lock = [], [0], threading.Lock()
next_i = [0]
def worker():
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    while True:
        with lock:
            i = next_i[0]; next_i[0] += 1
        if i >= total: break
        due = t0 + i / rate
        d = due - time.perf_counter()
        if d > 0: time.sleep(d)
        try:
            c.request("POST", "/mutate-pods?timeout=5s", body, {"Content-Type": "application/json"})
            r = c.getresponse(); data = r.read()
            ok = r.status == 200 and b'"allowed":true' in data.replace(b" ", b"")
        except Exception:
            ok = False
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
        el = time.perf_counter() - due
        with lock:
            lat.append(el)
            if not ok: errors[0] += 1
t0 = time.perf_counter() + 0.2
ts = [threading.Thread(target=worker) for _ in range(conns)]
for t in ts: t.start()
for t in ts: t.join()
wall = time.perf_counter() - t0
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(json.dumps({"n": len(lat), "errors": errors[0], "achieved_rps": round(len(lat) / wall, 1),
                  "p50_ms": round(q(0.50), 3), "p90_ms": round(q(0.90), 3), "p99_ms": round(q(0.99), 3),
                  "max_ms": round(lat[-1] * 1000, 3)}))
PY

cpu_seconds() { awk '{print ($14 + $15) / 100}' /proc/$1/stat; }

port=$(mc_free_port)
"$bin" webhook --host 127.0.0.1 --port "$port" --tls-cert cert.pem --tls-key key.pem --threads "$conns" 2> webhook.log &
wpid=$!
MC_CLEANUP+=("kill $wpid 2>/dev/null")
ppid_port=$(mc_free_port)
/usr/bin/python3 peer.py "$ppid_port" &
ppid=$!
MC_CLEANUP+=("kill $ppid 2>/dev/null")
for i in $(seq 1 100); do
  curl -sf --cacert cert.pem "https://127.0.0.1:$port/healthz" >/dev/null &&
    curl -s --cacert cert.pem -o /dev/null -X POST --data-binary @"$review" "https://127.0.0.1:$ppid_port/" && break
  sleep 0.1
done

c0=$(cpu_seconds $wpid)
m=$(/usr/bin/python3 load.py "$port" "$rate" "$secs" "$conns" "$review")
c1=$(cpu_seconds $wpid)
curl -s --cacert cert.pem "https://127.0.0.1:$port/metrics" > metrics.txt
p0=$(cpu_seconds $ppid)
p=$(/usr/bin/python3 load.py "$ppid_port" "$rate" "$secs" "$conns" "$review")
p1=$(cpu_seconds $ppid)

echo "rate=$rate req/s for ${secs}s over $conns keep-alive TLS connections, review=$(basename "$review") ($(wc -c < "$review") bytes)"
echo "modelcar webhook (mutates, JSON Patch): $m  server_cpu_s=$(echo "$c1 - $c0" | bc)"
echo "peer python https (allow only):         $p  server_cpu_s=$(echo "$p1 - $p0" | bc)"
# Time inside the modelcar handler (parse, mutate, diff, encode), from its own histogram: what the
# webhook adds on top of TLS and the network, independent of the load generator.
awk -F'[{}" ]+' '/_duration_seconds_bucket/ {b[$3]=$4} /_duration_seconds_count/ {n=$2}
  END {printf "modelcar handler time: <=0.25ms %.1f%%, <=0.5ms %.1f%%, <=1ms %.1f%%, <=2ms %.1f%% of %d\n",
       100*b["0.00025"]/n, 100*b["0.0005"]/n, 100*b["0.001"]/n, 100*b["0.002"]/n, n}' metrics.txt
echo "machine load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
/usr/bin/python3 - "$m" "$p" <<'PY'
import json, sys
m, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for k in ("p50_ms", "p99_ms"):
    print("%s ratio peer/modelcar: %.2fx" % (k, p[k] / m[k]))
print("target p99 < 2 ms: %s (%.3f ms)" % ("met" if m["p99_ms"] < 2 else "NOT met", m["p99_ms"]))
PY
