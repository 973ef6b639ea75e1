"""The `random` mode of fault_proxy.py: seeded random faults between modelcar and the real
docker-registry (a test double for a broken network or registry, which the real registry alone
cannot produce).

Each request draws, with probability RATE, one fault among those that fit it:
  every request     reset (connection reset before any answer; uploads are not applied),
                    error (500/502/503/504/429, not forwarded; half carry Retry-After: 0)
  blob/manifest GET reset-mid (headers and part of the body, then a reset), truncate (part of the
                    body, then a clean close), stall (part of the body, then STALL_S seconds of
                    silence, then a close), flip (one bit of the body inverted), overlong (1 to
                    4096 extra bytes after the body)
  ranged blob GET   bad-range (Content-Range names another start), shifted (right Content-Range,
                    bytes from the wrong offsets), whole (200 with the whole blob)
  uploads and       lost (forwarded and applied, then the answer is lost in a reset), flip (one bit
  manifest PUTs     of the request body inverted on its way to the registry)
The generator is seeded, so the sequence of decisions is fixed; which request gets which decision
depends on their order, which concurrent transfers make vary a little between runs.
"""
import collections
import http.client
import json
import random
import socket
import struct
import sys
import threading
import time


def read_body(h):
    if "Content-Length" in h.headers:
        return h.rfile.read(int(h.headers["Content-Length"]))
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(h.rfile.readline().strip(), 16)
            if size == 0:
                h.rfile.readline()
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    return None


def reset(h):
    """Closes the client connection with a TCP reset."""
    try:
        h.wfile.flush()
    except OSError:
        pass
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()
    h.close_connection = True


def flip(data, frac):
    if not data:
        return data
    i = min(int(frac * len(data)), len(data) - 1)
    return data[:i] + bytes([data[i] ^ (1 << (i % 8))]) + data[i + 1:]


class Faults:
    def __init__(self, seed, rate, stall="3"):
        self.rng = random.Random(int(seed))
        self.rate = float(rate)
        self.stall = float(stall)
        self.lock = threading.Lock()
        self.counts = collections.Counter()

    def draw(self, kinds):
        with self.lock:
            hit = self.rng.random() < self.rate
            kind = self.rng.choice(kinds)
            return (kind if hit else None), self.rng.random()

    def count(self, kind):
        with self.lock:
            self.counts[kind] += 1

    def handle(self, h, line, upstream, port):
        if h.path == "/_faults":
            with self.lock:
                body = json.dumps(dict(self.counts), sort_keys=True).encode()
            h.send_response(200)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        body = read_body(h)
        method, path = h.command, h.path
        ranged = "Range" in h.headers
        kinds = ["reset", "error"]
        if method == "GET" and ("/blobs/sha256:" in path or "/manifests/" in path):
            kinds += ["reset-mid", "truncate", "stall", "flip", "overlong"]
            if ranged and "/blobs/" in path:
                kinds += ["bad-range", "shifted", "whole"]
        elif method in ("POST", "PATCH", "PUT"):
            kinds += ["lost"] + (["flip"] if body else [])
        kind, frac = self.draw(kinds)
        sent, status = 0, 0
        try:
            sent, status = self.answer(h, kind, frac, body, upstream, port)
        finally:
            applied = "" if kind is None else " FAULT " + kind
            print("%s -> %s %d%s" % (line, status, sent if method == "GET" else len(body or b""),
                                     applied), file=sys.stderr, flush=True)

    def answer(self, h, kind, frac, body, upstream, port):
        """Forwards the request with fault `kind` (None: none). Returns (body bytes sent, status)."""
        if kind == "reset":
            self.count(kind)
            reset(h)
            return 0, 0
        if kind == "error":
            self.count(kind)
            status = [500, 502, 503, 504, 429][int(frac * 5)]
            h.send_response(status)
            if frac * 10 % 2 < 1:
                h.send_header("Retry-After", "0")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return 0, status
        if kind == "flip" and h.command != "GET":
            self.count(kind)
            body = flip(body, frac)
        headers = {k: v for k, v in h.headers.items() if k.lower() != "transfer-encoding"}
        if kind == "whole":
            headers.pop("Range", None)
        if body is not None:
            headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(upstream, timeout=60)
        conn.request(h.command, h.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read() if h.command != "HEAD" else b""
        conn.close()
        if kind == "lost":
            self.count(kind)
            reset(h)  # the registry applied the request; its answer is lost
            return 0, 0
        out = []
        for k, v in resp.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length"):
                continue
            if k.lower() == "location":
                v = v.replace(upstream, "127.0.0.1:%d" % port)
            out.append([k, v])
        length = resp.getheader("Content-Length", "0") if h.command == "HEAD" else None
        status = resp.status
        body_fault = kind in ("reset-mid", "truncate", "stall", "flip", "overlong", "bad-range",
                              "shifted", "whole") and h.command == "GET"
        if body_fault and (status not in (200, 206) or len(data) < 2):
            body_fault = False  # nothing to damage: pass the answer through
        if body_fault and kind in ("bad-range", "shifted") and status != 206:
            body_fault = False
        if body_fault:
            self.count(kind)
        if body_fault and kind == "flip":
            data = flip(data, frac)
        elif body_fault and kind == "overlong":
            data += bytes(random.Random(frac).randrange(256) for _ in range(1 + int(frac * 4095)))
        elif body_fault and kind == "bad-range":
            for kv in out:
                if kv[0].lower() == "content-range":  # "bytes A-B/T" -> "bytes A+d-B+d/T"
                    unit, rest = kv[1].split(" ", 1)
                    span, total = rest.split("/")
                    a, b = (int(x) for x in span.split("-"))
                    d = 1 + int(frac * 1000)
                    kv[1] = "%s %d-%d/%s" % (unit, a + d, b + d, total)
        elif body_fault and kind == "shifted":
            d = 1 + int(frac * (len(data) - 1))
            data = data[d:] + data[:d]
        h.send_response(status)
        for k, v in out:
            h.send_header(k, v)
        h.send_header("Content-Length", length if length is not None else str(len(data)))
        h.end_headers()
        if h.command == "HEAD":
            return 0, status
        if body_fault and kind in ("reset-mid", "truncate", "stall"):
            cut = max(1, int(frac * len(data)))
            h.wfile.write(data[:cut])
            h.wfile.flush()
            if kind == "stall":
                time.sleep(self.stall)
            if kind == "reset-mid":
                reset(h)
            h.close_connection = True
            return cut, status
        h.wfile.write(data)
        return len(data), status
