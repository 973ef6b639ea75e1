#!/usr/bin/python3
"""A small HTTP proxy that records what passes through it (a test double for a corporate proxy).

usage: env_proxy.py PORT LOG [USER:PASSWORD]
  CONNECT host:port        tunnels TLS (https:// URLs through HTTPS_PROXY)
  GET http://host/path ... forwards one absolute-form request (http:// URLs through http_proxy),
                           then closes the connection
Each request appends "METHOD TARGET user=NAME authorization=yes|no" to LOG (NAME from
Proxy-Authorization, "-" if none; the password is never written; authorization: whether the
request carried an Authorization header, "-" for CONNECT, which cannot see it). With
USER:PASSWORD, other credentials get 407. With ENV_PROXY_UPSTREAM=HOST:PORT in the environment,
every tunnel and request goes to that address whatever host it names (a stand-in for DNS, so that
a registry named like a cloud one can be served from 127.0.0.1).
"""
import os
import base64
import http.client
import http.server
import select
import socket
import socketserver
import sys
import urllib.parse

PORT, LOG = int(sys.argv[1]), sys.argv[2]
CREDS = sys.argv[3] if len(sys.argv) > 3 else None
UPSTREAM = os.environ.get("ENV_PROXY_UPSTREAM")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def authorized(self):
        auth = self.headers.get("Proxy-Authorization", "")
        user, given = "-", ""
        if auth.startswith("Basic "):
            given = base64.b64decode(auth[6:]).decode("utf-8", "replace")
            user = given.split(":", 1)[0]
        with open(LOG, "a") as f:
            seen = "-" if self.command == "CONNECT" else ("yes" if "Authorization" in self.headers else "no")
            f.write("%s %s user=%s authorization=%s\n" % (self.command, self.path, user, seen))
        if CREDS and given != CREDS:
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="test-proxy"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return True

    def do_CONNECT(self):
        if not self.authorized():
            return
        host, port = (UPSTREAM or self.path).rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        socks = [self.connection, upstream]
        while True:
            readable, _, _ = select.select(socks, [], [], 60)
            if not readable:
                break
            done = False
            for s in readable:
                data = s.recv(1 << 16)
                if not data:
                    done = True
                    break
                (upstream if s is self.connection else self.connection).sendall(data)
            if done:
                break
        upstream.close()
        self.close_connection = True

    def forward(self):
        if not self.authorized():
            return
        url = urllib.parse.urlsplit(self.path)
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
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-authorization", "proxy-connection", "transfer-encoding", "connection")}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(UPSTREAM or url.netloc, timeout=60)
        conn.request(self.command, url.path + ("?" + url.query if url.query else ""), body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read() if self.command != "HEAD" else b""
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", resp.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
