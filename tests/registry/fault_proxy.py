#!/usr/bin/python3
"""A fault-injecting HTTP proxy in front of the real docker-registry (a test double for a flaky
network or a broken registry, which cannot be produced with the real registry alone).

usage: fault_proxy.py PORT UPSTREAM_HOST:PORT MODE [N]
MODE:
  pass        forward everything
  error503    the first N blob GETs answer 503 with Retry-After: 0
  truncate    the first N blob GETs send half of the body, then close the connection
  corrupt     every blob GET larger than 1 KiB has one byte changed
  slow        blob GET bodies are sent at about N KiB/s
"""
import http.client
import http.server
import socketserver
import sys
import threading
import time

PORT, UPSTREAM, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
N = int(sys.argv[4]) if len(sys.argv) > 4 else 1
counter = {"n": 0}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def forward(self):
        body = None
        if "Content-Length" in self.headers:
            body = self.rfile.read(int(self.headers["Content-Length"]))
        elif self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        is_blob_get = self.command == "GET" and "/blobs/sha256:" in self.path
        with lock:
            if is_blob_get:
                counter["n"] += 1
            nth = counter["n"]
        if is_blob_get and MODE == "error503" and nth <= N:
            self.send_response(503)
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding",)}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read() if self.command != "HEAD" else b""
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length"):
                continue
            if k.lower() == "location":
                v = v.replace(UPSTREAM, "127.0.0.1:%d" % PORT)
            self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", resp.getheader("Content-Length", "0"))
            self.end_headers()
            return
        ok_blob = is_blob_get and resp.status in (200, 206)
        if ok_blob and MODE == "truncate" and nth <= N and len(data) > 1:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if ok_blob and MODE == "corrupt" and len(data) > 1024:
            data = data[:512] + bytes([data[512] ^ 0xFF]) + data[513:]
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if ok_blob and MODE == "slow":
            step = 1024
            for i in range(0, len(data), step):
                self.wfile.write(data[i : i + step])
                self.wfile.flush()
                time.sleep(1.0 / N)
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
