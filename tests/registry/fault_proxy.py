#!/usr/bin/python3
"""A fault-injecting HTTP proxy in front of the real docker-registry (a test double for a flaky
network or a broken registry, which cannot be produced with the real registry alone).

usage: fault_proxy.py PORT UPSTREAM_HOST:PORT MODE [ARGS...]
MODE:
  pass        forward everything
  error503 N  the first N blob GETs answer 503 with Retry-After: 0
  truncate N  the first N blob GETs send half of the body, then close the connection
  corrupt     every blob GET larger than 1 KiB has one byte changed
  slow N      blob GET bodies are sent at about N KiB/s
  stall N     the first N blob GETs send half of the body, then stop sending (the connection
              stays open for 120 s)
  manifest FILE TYPE
              every manifest GET/HEAD is answered with FILE's bytes as Content-Type TYPE (what a
              registry serving a huge or foreign manifest sends; the real one refuses to store them)
  patchlost N the first N upload PATCHes reach the registry, but their response is lost (the
              connection is closed without an answer)
  patch416 N  the first N upload PATCHes that do not start at offset 0 answer 416 without reaching
              the registry (a registry that disagrees about the upload's offset)
  patch502 N  the first N upload PATCHes answer 502 without reaching the registry
  flaky502 N  as patch502, and the first N upload status GETs answer 502 too
  badlength   every HEAD answer carries Content-Length: 99999999999999999999 (more than 64 bits)
  refuse413 B every PUT with a body over B bytes answers 413 (a proxy with a body size limit)
  uploadstall N
              the first N uploads (PUT or PATCH) of over 64 KiB or streamed (chunked) stop being
              read after 64 KiB and never get an answer (the connection stays open for 120 s)
  random SEED RATE [STALL_S]
              every request gets a fault with probability RATE (0..1), drawn from a random
              generator seeded with SEED (random_faults.py): connection resets (before the answer,
              after the headers, mid-body), truncated bodies, stalls of STALL_S seconds (default
              3) mid-body, 5xx/429 answers (some with Retry-After: 0), bit flips in blob and
              manifest bodies (downloads and uploads), over-long bodies, a wrong Content-Range,
              a 206 whose bytes come from another offset, a 200 with the whole blob for a Range
              request, and upload answers lost after the registry applied the request.
              GET /_faults answers the count of each injected fault as JSON.
Every request is logged to stderr as "METHOD PATH [Range: ...] [Content-Range: ...] -> STATUS
BYTES" (BYTES: body bytes sent for GETs, received for uploads), then "FAULT KIND" when one was
injected.
"""
import hashlib
import http.client
import http.server
import json
import socket
import socketserver
import struct
import sys
import threading
import time

import random_faults

PORT, UPSTREAM, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ARGS = sys.argv[4:]
N = int(ARGS[0]) if ARGS and MODE not in ("manifest", "random") else 1
FAULTS = random_faults.Faults(*ARGS) if MODE == "random" else None
counter = {"n": 0}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass  # the connection was reset on purpose

    def forward(self):
        line = self.command + " " + self.path
        for h in ("Range", "Content-Range"):
            if h in self.headers:
                line += " %s: %s" % (h, self.headers[h])
        if FAULTS is not None:
            FAULTS.handle(self, line, UPSTREAM, PORT)
            return
        print(line, file=sys.stderr, flush=True)
        if MODE == "manifest" and "/manifests/" in self.path and self.command in ("GET", "HEAD"):
            data = open(ARGS[0], "rb").read()
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            self.answer(200, data, [("Content-Type", ARGS[1]), ("Docker-Content-Digest", digest)])
            return
        length = int(self.headers.get("Content-Length", "0"))
        streamed = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        if MODE == "uploadstall" and self.command in ("PUT", "PATCH") and (length > 65536 or
                                                                           streamed):
            with lock:
                counter["n"] += 1
                nth = counter["n"]
            if nth <= N:
                self.rfile.read(65536 if streamed else min(length, 65536))
                time.sleep(120)
                self.close_connection = True
                return
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
        is_patch = self.command == "PATCH" and MODE in ("patchlost", "patch416", "patch502", "flaky502")
        if MODE == "flaky502" and self.command == "GET" and "/blobs/uploads/" in self.path:
            with lock:
                counter["status"] = counter.get("status", 0) + 1
                if counter["status"] <= N:
                    self.answer(502, b"bad gateway")
                    return
        if MODE == "patch416":
            is_patch = is_patch and not self.headers.get("Content-Range", "0-").startswith("0-")
        with lock:  # N counts blob GETs, or in the PATCH modes the PATCHes
            if is_blob_get or is_patch:
                counter["n"] += 1
            nth = counter["n"]
        if MODE == "refuse413" and self.command == "PUT" and body is not None and len(body) > N:
            self.answer(413, b'{"errors":[{"code":"SIZE_INVALID","message":"request entity too large"}]}')
            return
        if MODE in ("patch502", "flaky502") and is_patch and nth <= N:
            self.answer(502, b"bad gateway")
            return
        if MODE == "patch416" and is_patch and nth <= N:
            self.answer(416, b'{"errors":[{"code":"RANGE_INVALID","message":"invalid content range"}]}')
            return
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
        if MODE == "patchlost" and is_patch and nth <= N:
            self.close_connection = True  # the registry applied the PATCH; the answer is lost
            return
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length"):
                continue
            if k.lower() == "location":
                v = v.replace(UPSTREAM, "127.0.0.1:%d" % PORT)
            self.send_header(k, v)
        if self.command == "HEAD":
            length = "99999999999999999999" if MODE == "badlength" else resp.getheader("Content-Length", "0")
            self.send_header("Content-Length", length)
            self.end_headers()
            return
        ok_blob = is_blob_get and resp.status in (200, 206)
        if ok_blob and MODE == "stall" and nth <= N and len(data) > 1:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            time.sleep(120)
            self.close_connection = True
            return
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
