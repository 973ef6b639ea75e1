#!/usr/bin/python3
"""A counting, throttling HTTP proxy in front of the real docker-registry (a test double for the
registry's network link: the bytes a node pulls across it are what the peer tests measure, and a
real link's rate limit cannot be set on loopback otherwise).

usage: registry_proxy.py PORT UPSTREAM_HOST:PORT [--rate BYTES_PER_SECOND] [--no-range] [--flip] [--lie]
  --rate N    blob bodies of all connections together leave at about N bytes/s (token bucket)
  --no-range  the registry ignores Range: the header is dropped before it reaches the registry
              and Accept-Ranges is removed from answers (every blob GET sends the whole blob)
  --flip      the first byte of every blob body is inverted (in front of a `store serve`: a peer
              that lies about the bytes it serves)
  --lie       like --flip, and a Modelcar-Piece-Digest header is replaced by the hash of the
              altered body (a peer that lies consistently: only the layer digest catches it)
GET /_proxy/stats answers {"blob_bytes", "blob_gets", "ranged_gets", "requests"} (blob bytes are
body bytes of blob GETs sent to clients); POST /_proxy/reset zeroes them. Each blob GET is logged to
stderr as "GET PATH [Range] -> STATUS BYTES".
"""
import hashlib
import http.client
import http.server
import json
import socketserver
import sys
import threading
import time

PORT, UPSTREAM = int(sys.argv[1]), sys.argv[2]
RATE = 0
NO_RANGE = False
FLIP = False
LIE = False
args = sys.argv[3:]
while args:
    a = args.pop(0)
    if a == "--rate":
        RATE = float(args.pop(0))
    elif a == "--no-range":
        NO_RANGE = True
    elif a == "--flip":
        FLIP = True
    elif a == "--lie":
        FLIP = LIE = True
    else:
        sys.exit("unknown argument " + a)

lock = threading.Lock()
stats = {"blob_bytes": 0, "blob_gets": 0, "ranged_gets": 0, "requests": 0}
bucket = {"tokens": 0.0, "t": time.monotonic()}


def throttle(n):
    """Blocks until n bytes may leave (shared by every connection)."""
    if RATE <= 0:
        return
    while True:
        with lock:
            now = time.monotonic()
            bucket["tokens"] = min(RATE * 0.25, bucket["tokens"] + (now - bucket["t"]) * RATE)
            bucket["t"] = now
            if bucket["tokens"] >= n or bucket["tokens"] >= RATE * 0.25:
                bucket["tokens"] -= n
                return
            wait = (n - bucket["tokens"]) / RATE
        time.sleep(min(wait, 0.05))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply_json(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        if self.path == "/_proxy/reset":
            with lock:
                for k in stats:
                    stats[k] = 0
            self.reply_json({})
            return
        self.forward()

    def do_GET(self):
        if self.path == "/_proxy/stats":
            with lock:
                self.reply_json(dict(stats))
            return
        self.forward()

    do_HEAD = do_PUT = do_PATCH = do_DELETE = lambda self: self.forward()

    def forward(self):
        with lock:
            stats["requests"] += 1
        is_blob_get = self.command == "GET" and "/blobs/sha256:" in self.path
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        if NO_RANGE:
            headers = {k: v for k, v in headers.items() if k.lower() != "range"}
        body = None
        if "Content-Length" in self.headers:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        conn = http.client.HTTPConnection(UPSTREAM, timeout=120)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            self.send_response(resp.status)
            length = resp.getheader("Content-Length")
            lie_body = None
            resp_headers = resp.getheaders()
            if LIE and is_blob_get and resp.getheader("Modelcar-Piece-Digest"):
                data = resp.read()
                if data:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                lie_body = data
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                resp_headers = [(k, digest if k.lower() == "modelcar-piece-digest" else v)
                                for k, v in resp_headers]
            for k, v in resp_headers:
                if k.lower() in ("connection", "transfer-encoding", "keep-alive"):
                    continue
                if NO_RANGE and k.lower() == "accept-ranges":
                    continue
                self.send_header(k, v)
            if length is None and self.command != "HEAD":
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            sent = 0
            if lie_body is not None:
                self.wfile.write(lie_body)
                sent = len(lie_body)
                with lock:
                    stats["blob_bytes"] += sent
            elif self.command != "HEAD":
                while True:
                    chunk = resp.read(65536)
                    if not chunk:
                        break
                    if is_blob_get:
                        throttle(len(chunk))
                        if FLIP and sent == 0:
                            chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    if is_blob_get:
                        with lock:
                            stats["blob_bytes"] += len(chunk)
            if is_blob_get:
                with lock:
                    stats["blob_gets"] += 1
                    if "Range" in self.headers and not NO_RANGE:
                        stats["ranged_gets"] += 1
                print("GET %s %s -> %d %d" % (self.path, self.headers.get("Range", ""),
                                              resp.status, sent), file=sys.stderr, flush=True)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            conn.close()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
